"""Tools that run on the managed hosts, shipped as one zipapp (``qwen3-hosttools.pyz``) by role host_tools.

Subcommands (``python3 qwen3-hosttools.pyz <tool> ...``):

- ``latency``      stream requests to the engine / router / Open WebUI and write timing results (role verify)
- ``hf-fetch``     download a pinned Hugging Face snapshot once, resumable (role model_weights)
- ``ollama-pull``  pull an Ollama tag with retries, following its progress (role ollama_service)

Each runs in the tools venv the host_tools role creates (requests, python-socketio, huggingface_hub);
nothing here is imported on the controller except by tests and benchmarks.
"""
