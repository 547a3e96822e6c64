#!/bin/sh
# Regenerate golden.json (STAND-IN test data): needs Go >= 1.19 and the ollama/ollama mirror (git dir).
# InferTags is copied verbatim from upstream at the tag the stand-in ports.
set -eu
MIRROR=${OLLAMA_MIRROR:-/work/.mirror/ollama+ollama/repo}
REV=${OLLAMA_REV:-v0.33.0-rc2}
cd "$(dirname "$0")/gen"
mkdir -p thinking
git -C "$MIRROR" show "$REV:thinking/template.go" > thinking/template.go
GO_VERSION="$(go version)" go run .
