"""STAND-IN FOR OLLAMA -- NOT THE REAL OLLAMA. qwen3-deploy test double (tests/ollama_standin/).

A Python 3 (stdlib only) package behind the stand-in `ollama` script: it speaks the subset of Ollama's CLI and HTTP
API that the `ollama_service` role, Open WebUI and the latency tool use, and follows upstream Ollama's rules for
Modelfile parsing, capabilities, template selection, `think` defaulting and the OpenAI mapping (each module cites
the upstream file and function it ports: ollama/ollama v0.33.0-rc2, the newest snapshot available here; the
project pins 0.34.4, which is not in that snapshot). It loads no model: replies are fake tokens.

Modules: gotemplate(+_exec) Go text/template port; ollama_template Ollama's template package and InferTags;
rules capabilities/selection/think/OpenAI mapping; modelfile_parser Modelfile -> create request; store model
store; generate rendering + fake model + thinking split; server HTTP API; cli the `ollama` CLI.
"""

VERSION = "0.34.4"  # replaced by build.py with the version the archive is built for
