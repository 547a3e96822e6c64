"""STAND-IN code (qwen3-deploy tests), NOT Ollama: the `ollama` CLI (serve, --version, create, pull, list, ps,
rm, show). `create` turns the Modelfile into an /api/create request the way upstream's CLI does
(cmd/cmd.go CreateHandler -> parser/parser.go ParseFile + (Modelfile).CreateRequest, ported in modelfile_parser.py).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

from . import VERSION
from .modelfile_parser import ModelfileError, create_request
from .store import STANDIN_NOTE, client_base, env_host, models_dir

USAGE = "usage: ollama serve | --version | create NAME -f FILE | list | pull NAME | ps | rm NAME | show NAME"


def serve() -> int:
    from .server import Server  # the client commands do not need the server's modules

    _scheme, host, port = env_host()
    server = Server((host, port))
    models_dir().mkdir(parents=True, exist_ok=True)
    env = " ".join(f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith("OLLAMA_"))
    sys.stderr.write(
        f"[standin] Ollama STAND-IN {VERSION} ({STANDIN_NOTE}) listening on {host}:{port}; "
        f"models {models_dir()}; env: {env}\n"
    )
    sys.stderr.flush()

    def stop(*_):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()
    server.server_close()
    return 0


def call(method: str, path: str, body: dict | None = None, stream: bool = False):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        client_base() + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        resp = urllib.request.urlopen(req, timeout=600)
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("error", str(exc))
        except ValueError:
            message = str(exc)
        raise SystemExit(f"Error: {message}") from None
    except urllib.error.URLError as exc:
        raise SystemExit(f"Error: could not connect to ollama server at {client_base()}: {exc.reason}") from None
    if not stream:
        return json.loads(resp.read() or b"{}")
    return (json.loads(line) for line in resp if line.strip())


def follow(lines) -> int:
    for obj in lines:
        if obj.get("error"):
            print(f"Error: {obj['error']}", file=sys.stderr)
            return 1
        status = obj.get("status", "")
        if obj.get("total"):
            status += f" {obj.get('completed', 0)}/{obj['total']}"
        print(status, file=sys.stderr)
    return 0


def create(args: list[str]) -> int:
    path, positional, i = "Modelfile", [], 0
    while i < len(args):
        if args[i] in ("-f", "--file") and i + 1 < len(args):
            path, i = args[i + 1], i + 2
            continue
        if not args[i].startswith("-"):
            positional.append(args[i])
        i += 1
    if not positional:
        raise SystemExit("Error: create requires a model name")
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise SystemExit(f"Error: open {path}: {(exc.strerror or '').lower()}") from None
    try:
        body, warnings = create_request(text)
    except ModelfileError as exc:
        raise SystemExit(f"Error: {exc}") from None
    for w in warnings:
        print(w)
    return follow(call("POST", "/api/create", {"model": positional[0], **body, "stream": True}, stream=True))


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__)
        print(USAGE)
        return 0
    cmd, args = argv[0], argv[1:]
    if cmd in ("-v", "--version", "version"):
        try:
            server_version = call("GET", "/api/version").get("version")
        except SystemExit:
            server_version = None
        if server_version:
            print(f"ollama version is {server_version} ({STANDIN_NOTE})")
        else:
            print(
                f"Warning: could not connect to a running Ollama instance\n"
                f"Warning: client version is {VERSION} ({STANDIN_NOTE})"
            )
        return 0
    if cmd == "serve":
        return serve()
    if cmd == "create":
        return create(args)
    if cmd == "pull" and args:
        return follow(call("POST", "/api/pull", {"model": args[0], "stream": True}, stream=True))
    if cmd in ("list", "ls"):
        print(f"{'NAME':<40}{'ID':<15}{'SIZE':<10}MODIFIED")
        for m in call("GET", "/api/tags").get("models", []):
            print(f"{m['name']:<40}{m['digest'][7:19]:<15}{m['size']:<10}{m['modified_at']}")
        return 0
    if cmd == "ps":
        print(f"{'NAME':<40}SIZE")
        for m in call("GET", "/api/ps").get("models", []):
            print(f"{m['name']:<40}{m['size']}")
        return 0
    if cmd == "rm" and args:
        call("DELETE", "/api/delete", {"model": args[0]})
        print(f"deleted '{args[0]}'")
        return 0
    if cmd == "show" and args:
        info = call("POST", "/api/show", {"model": args[0]})
        if "--modelfile" in args:
            print(info["modelfile"])
        else:
            print(json.dumps({"details": info["details"], "capabilities": info["capabilities"]}, indent=2))
        return 0
    print(f"Error: unknown command {cmd!r} for the Ollama stand-in ({STANDIN_NOTE})", file=sys.stderr)
    return 2
