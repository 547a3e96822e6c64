#!/bin/sh
# Entry point of the test image: the official image's HOST/PORT contract, then open-webui serve.
set -eu
mkdir -p "${DATA_DIR:-/app/backend/data}"
exec /app/venv/bin/open-webui serve --host "${HOST:-0.0.0.0}" --port "${PORT:-8080}"
