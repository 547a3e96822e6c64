"""Test helpers for the Ollama STAND-IN (qwen3-deploy tests; NOT the real Ollama): run its HTTP server in-process
on 127.0.0.1 and talk to it. The caller sets OLLAMA_MODELS (the stand-in reads its environment per request)."""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.error
import urllib.request

from .standin import modelfile_parser, server, store


@contextlib.contextmanager
def running_server():
    """Yield the base URL of a stand-in server on an ephemeral 127.0.0.1 port."""
    srv = server.Server(("127.0.0.1", 0))
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def request(base: str, path: str, body: dict | None = None, method: str | None = None) -> tuple[int, object]:
    """(status, decoded body): JSON object, list of NDJSON objects, or list of SSE `data:` objects."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        base + path,
        data=data,
        method=method or ("POST" if data else "GET"),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, ctype, raw = resp.status, resp.headers.get("Content-Type", ""), resp.read().decode()
    except urllib.error.HTTPError as exc:
        status, ctype, raw = exc.code, exc.headers.get("Content-Type", ""), exc.read().decode()
    if "ndjson" in ctype:
        return status, [json.loads(line) for line in raw.splitlines() if line.strip()]
    if "event-stream" in ctype or raw.startswith("data: "):
        events = [line[6:] for line in raw.splitlines() if line.startswith("data: ")]
        return status, [json.loads(e) for e in events if e != "[DONE]"]
    return status, json.loads(raw) if raw.strip() else None


def create(base: str, name: str, modelfile_text: str) -> tuple[int, object]:
    """`ollama create NAME -f FILE` as the stand-in CLI does it (Modelfile -> /api/create request)."""
    req, _warnings = modelfile_parser.create_request(modelfile_text)
    return request(base, "/api/create", {"model": name, **req, "stream": False})


def write_model(
    name: str,
    *,
    template: str | None = None,
    chat_template: str = "",
    family: str = "llama",
    parser: str = "",
    renderer: str = "",
    capabilities: list[str] | None = None,
    gguf: bool = True,
    model_format: str = "gguf",
) -> None:
    """Store a model the way upstream's tests build one (a GGUF with KVs + a TEMPLATE layer + a config)."""
    store.save_manifest(
        name,
        {
            "standin": True,
            "kind": "test",
            "from": "",
            "digest": "",
            "size": 0,
            "config": {
                "model_format": model_format,
                "model_family": family,
                "model_families": [family],
                "renderer": renderer,
                "parser": parser,
                "capabilities": capabilities or [],
            },
            "gguf": {"architecture": family, "chat_template": chat_template} if gguf else None,
            "layers": {"template": template, "system": None, "params": None, "messages": None, "license": []},
        },
    )
