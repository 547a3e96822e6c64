"""The user-path canary (hosttools canary.py): real sockets against test doubles on 127.0.0.1 (FakeStreamServer for the
engine, FakeOpenWebUI below for Open WebUI's API and its Socket.IO browser path), gauges and labels, an unreachable
path, thinking leaks, the chats its requests create deleted, the atomic write, and `promtool check metrics`."""

from __future__ import annotations

import json
import os
import re
import socket
import stat
import threading
import time
import uuid
from pathlib import Path
from socketserver import ThreadingMixIn
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
import socketio
from ansible_collections.qwen3.deploy.plugins.module_utils.monitoring import metric_names
from qwen3_hosttools import canary, textfile
from qwen3_hosttools.__main__ import main as hosttools_main
from support import prometheus_tools
from support.fake_stream_server import FakeScript, FakeStreamServer

EMAIL, PASSWORD, TOKEN, MODEL = "canary@example.invalid", "canary-pw", "jwt-canary", "qwen3-demo"
SAMPLE = re.compile(r'^(\w+)\{path="([\w-]+)"\} (\S+)$')


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class FakeOpenWebUI:
    """Open WebUI 0.12.4 as the canary meets it (a test double on 127.0.0.1).

    Sign-in, /health, the page-load GETs, the chat list, one chat, DELETE one chat, and /api/chat/completions with
    upstream's rule for chats (main.py chat_completion): ``parent_id`` present and null with no ``chat_id`` makes a
    new saved chat; a body without them (a legacy caller) makes none. With a ``session_id`` the answer goes out as
    Socket.IO ``events`` (chat:list, chat:active, the engine's role chunk, deltas, chat:completion), else as SSE.
    Socket.IO runs on long-polling only (a WSGI server), so the probe's websocket attempt is refused and it falls back.
    """

    def __init__(self, *, tokens: int = 5, reasoning: str = "", chats: dict | None = None):
        self.tokens, self.reasoning = tokens, reasoning
        self.chats: dict[str, dict] = dict(chats or {})
        self.created: list[str] = []
        self.deleted: list[str] = []
        self.requests: list[tuple[str, str]] = []
        self.sio = socketio.Server(async_mode="threading", transports=["polling"])
        self.sio.on("connect", lambda sid, environ, auth=None: (auth or {}).get("token") == TOKEN)
        self.sio.on("events:chat", lambda sid, data: True)
        app = socketio.WSGIApp(self.sio, self._http, socketio_path="ws/socket.io")
        self.httpd = make_server("127.0.0.1", 0, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeOpenWebUI:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- HTTP --------------------------------------------------------------------------------------------------
    def _http(self, environ, start_response):
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        self.requests.append((method, path))
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = json.loads(environ["wsgi.input"].read(length) or b"{}") if length else {}

        def reply(status: str, data) -> list[bytes]:
            start_response(status, [("Content-Type", "application/json")])
            return [json.dumps(data).encode()]

        if path == "/health":
            return reply("200 OK", {"status": True})
        if path == "/api/v1/auths/signin":
            ok = body == {"email": EMAIL, "password": PASSWORD}
            return reply("200 OK", {"token": TOKEN}) if ok else reply("400 Bad Request", {"detail": "bad"})
        if environ.get("HTTP_AUTHORIZATION") != f"Bearer {TOKEN}":
            return reply("401 Unauthorized", {"detail": "Not authenticated"})
        pages = {"/api/config": {"features": {}}, "/api/v1/users/user/settings": {"ui": {}},
                 "/api/models": {"data": [{"id": MODEL}]}, "/api/v1/chats/pinned": [],
                 "/api/v1/auths/": {"id": "u-canary", "name": "Canary", "email": EMAIL}}
        if method == "GET" and path in pages:
            return reply("200 OK", pages[path])
        if method == "GET" and path == "/api/v1/chats/":
            page = int(parse_qs(environ.get("QUERY_STRING", "")).get("page", ["1"])[0])
            ids = list(self.chats)[(page - 1) * 60:page * 60]
            return reply("200 OK", [{"id": i, "title": "New Chat", "updated_at": 0, "created_at": 0} for i in ids])
        if path.startswith("/api/v1/chats/"):
            chat_id = path.rsplit("/", 1)[1]
            if chat_id not in self.chats:
                return reply("404 Not Found", {"detail": "not found"})
            if method == "DELETE":
                del self.chats[chat_id]
                self.deleted.append(chat_id)
                return reply("200 OK", True)
            return reply("200 OK", {"id": chat_id, "title": "New Chat", "chat": self.chats[chat_id]})
        if method == "POST" and path == "/api/chat/completions":
            return self._completion(body, start_response, reply)
        return reply("404 Not Found", {"detail": "Not Found"})

    def _completion(self, body: dict, start_response, reply):
        chat_id = body.get("chat_id") or ""
        if "parent_id" in body and body["parent_id"] is None and not chat_id:  # upstream: is_new_chat
            chat_id = str(uuid.uuid4())
            user = body.get("user_message") or {}
            self.chats[chat_id] = {"history": {"messages": {user.get("id", "u"): dict(user)}},
                                   "messages": [{"role": "user", "content": user.get("content", "")}]}
            self.created.append(chat_id)
        if body.get("session_id"):
            message_id = body.get("id") or (body.get("message_ids") or [{}])[0].get("message_id")
            user_id = (body.get("user_message") or {}).get("id")
            threading.Thread(target=self._emit, args=(body["session_id"], chat_id, user_id, message_id),
                             daemon=True).start()
            return reply("200 OK", {"status": True, "task_id": "t-1"})
        start_response("200 OK", [("Content-Type", "text/event-stream")])
        return self._sse()

    def _sse(self):
        def event(delta: dict) -> bytes:
            return b"data: " + json.dumps({"choices": [{"index": 0, "delta": delta}]}).encode() + b"\n\n"

        yield event({"role": "assistant", "content": ""})
        if self.reasoning:
            yield event({"reasoning_content": self.reasoning})
        for i in range(self.tokens):
            time.sleep(0.005)
            yield event({"content": f" w{i}"})
        yield b"data: " + json.dumps({"choices": [], "usage": {"completion_tokens": self.tokens}}).encode() + b"\n\n"
        yield b"data: [DONE]\n\n"

    def _emit(self, sid: str, chat_id: str, user_id: str | None, message_id: str) -> None:
        def send(mid, etype, data) -> None:
            self.sio.emit("events", {"chat_id": chat_id, "message_id": mid, "data": {"type": etype, "data": data}},
                          to=sid)

        send(user_id, "chat:list", {})
        send(message_id, "chat:active", {"active": True})
        send(message_id, "response:completion", {"choices": [{"index": 0, "delta": {"role": "assistant"}}]})
        if self.reasoning:
            send(message_id, "response:completion", {"type": "response.reasoning_text.delta", "delta": self.reasoning})
        for i in range(self.tokens):
            time.sleep(0.005)
            send(message_id, "response:completion", {"type": "response.output_text.delta", "delta": f" w{i}"})
        send(message_id, "chat:completion", {"done": True})


# -- helpers --------------------------------------------------------------------------------------------------------
def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture()
def secrets(tmp_path):
    key = tmp_path / "vllm.env"
    key.write_text("VLLM_API_KEY='sk-canary-key'\n")
    account = tmp_path / "canary-account.json"
    account.write_text(json.dumps({"email": EMAIL, "password": PASSWORD}))
    return key, account


def argv(out: Path, secrets, targets: dict[str, str], *extra: str) -> list[str]:
    key, account = secrets
    args = ["--out", str(out), "--model", MODEL, "--api-key-file", str(key), "--api-key-name", "VLLM_API_KEY",
            "--webui-credentials-file", str(account), "--max-tokens", "16", "--timeout", "10", *extra]
    for path, url in targets.items():
        args += ["--target", f"{path}={url}"]
    return args


def parse(text: str) -> dict[tuple[str, str], float]:
    samples = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, line
        samples[(match.group(1), match.group(2))] = float(match.group(3))
    return samples


def assert_promtool_clean(text: str) -> None:
    res = prometheus_tools.run("promtool", "check", "metrics", stdin=text)
    assert res.returncode == 0 and res.stdout == "" and res.stderr == "", (res.stdout, res.stderr)


# -- tests ----------------------------------------------------------------------------------------------------------
def test_metric_names_are_the_ones_the_alert_rules_use():
    assert {key: name for key, (name, _help) in canary.METRICS.items()} == metric_names.CANARY


def test_three_paths_gauges_labels_and_no_chat_left(tmp_path, secrets):
    users_chat = {"history": {"messages": {"m": {"role": "user", "content": "What is the capital of France?"}}},
                  "messages": [{"role": "user", "content": "What is the capital of France?"}]}
    leftover = {"history": {"messages": {"m": {"role": "user", "content": canary.DEFAULT_PROMPT}}},
                "messages": [{"role": "user", "content": canary.DEFAULT_PROMPT}]}
    out = tmp_path / "qwen3_canary.prom"
    with FakeStreamServer(FakeScript(ttft_s=0.03, itl_s=0.004, tokens=6)) as engine, \
            FakeOpenWebUI(chats={"users-chat": users_chat, "killed-run": leftover}) as webui:
        targets = {"engine": engine.url, "webui": webui.url, "webui-socket": webui.url}
        before = time.time()
        assert canary.main(argv(out, secrets, targets)) == 0
    text = out.read_text()
    s = parse(text)
    for path in targets:
        assert s[("qwen3_canary_success", path)] == 1 and s[("qwen3_canary_error_ratio", path)] == 0
        assert s[("qwen3_canary_thinking_leaks", path)] == 0
        assert 0 < s[("qwen3_canary_ttft_seconds", path)] < 5
        assert 0 < s[("qwen3_canary_itl_seconds", path)] < 1
        assert s[("qwen3_canary_decode_tokens_per_second", path)] > 0
        assert before <= s[("qwen3_canary_last_run_timestamp_seconds", path)] <= time.time()
    assert s[("qwen3_canary_ttft_seconds", "engine")] >= 0.03  # never before the double's first token
    assert {path for (_name, path) in s} == set(targets)
    assert {name for (name, _path) in s} == set(metric_names.CANARY.values())
    for name in metric_names.CANARY.values():  # one HELP and one TYPE per family
        assert text.count(f"# HELP {name} ") == 1 and text.count(f"# TYPE {name} gauge\n") == 1
    # Only the browser path made a chat (the page's new chat); the probe deleted it, the sweep took the killed run's
    # leftover, the user's chat stayed.
    assert len(webui.created) == 1 and webui.created[0] in webui.deleted
    assert "killed-run" in webui.deleted and set(webui.chats) == {"users-chat"}
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["canary-account.json", "qwen3_canary.prom", "vllm.env"]
    assert_promtool_clean(text)


def test_the_api_path_creates_no_chat(tmp_path, secrets):
    with FakeOpenWebUI() as webui:
        assert canary.main(argv(tmp_path / "c.prom", secrets, {"webui": webui.url})) == 0
    assert parse((tmp_path / "c.prom").read_text())[("qwen3_canary_success", "webui")] == 1
    assert webui.created == [] and webui.deleted == []
    assert ("POST", "/api/chat/completions") in webui.requests
    assert not any(p.startswith("/api/v1/chats") for _m, p in webui.requests)  # no sweep: nothing to sweep


def test_unreachable_paths_report_failure_and_exit_zero(tmp_path, secrets, capsys):
    down = closed_port_url()
    out = tmp_path / "qwen3_canary.prom"
    with FakeStreamServer(FakeScript(ttft_s=0.001, itl_s=0.001, tokens=3)) as engine:
        targets = {"engine": engine.url, "webui": down, "webui-socket": down}
        assert canary.main(argv(out, secrets, targets)) == 0
    text = out.read_text()
    s = parse(text)
    assert s[("qwen3_canary_success", "engine")] == 1
    for path in ("webui", "webui-socket"):
        assert s[("qwen3_canary_success", path)] == 0 and s[("qwen3_canary_error_ratio", path)] == 1
        assert ("qwen3_canary_ttft_seconds", path) not in s and ("qwen3_canary_itl_seconds", path) not in s
        assert ("qwen3_canary_last_run_timestamp_seconds", path) in s  # the canary ran: not stale
    assert f"canary: webui: Open WebUI not reachable at {down}" in capsys.readouterr().err
    assert_promtool_clean(text)
    # Everything down, the engine too: still exit 0 and a file the collector can read.
    assert canary.main(argv(out, secrets, {"engine": down})) == 0
    s = parse(out.read_text())
    assert s[("qwen3_canary_success", "engine")] == 0 and ("qwen3_canary_ttft_seconds", "engine") not in s


def test_thinking_is_counted_on_every_path(tmp_path, secrets):
    out = tmp_path / "qwen3_canary.prom"
    with FakeStreamServer(FakeScript(ttft_s=0.001, itl_s=0.001, tokens=3, reasoning="hmm")) as engine, \
            FakeOpenWebUI(reasoning="let me think") as webui:
        targets = {"engine": engine.url, "webui": webui.url, "webui-socket": webui.url}
        assert canary.main(argv(out, secrets, targets)) == 0
    s = parse(out.read_text())
    for path in targets:
        assert s[("qwen3_canary_thinking_leaks", path)] == 1
        assert s[("qwen3_canary_success", path)] == 1  # a leak is its own alert, not a failed request
    assert webui.chats == {}


def test_one_token_has_no_itl_and_the_family_is_left_out(tmp_path, secrets):
    with FakeStreamServer(FakeScript(ttft_s=0.001, tokens=1)) as engine:
        assert canary.main(argv(tmp_path / "c.prom", secrets, {"engine": engine.url})) == 0
    text = (tmp_path / "c.prom").read_text()
    assert "qwen3_canary_itl_seconds" not in text and "qwen3_canary_decode_tokens_per_second" not in text
    assert parse(text)[("qwen3_canary_ttft_seconds", "engine")] > 0
    assert_promtool_clean(text)


def test_wrong_sign_in_is_a_failed_path_not_a_crash(tmp_path, secrets):
    _key, account = secrets
    account.write_text(json.dumps({"email": EMAIL, "password": "wrong"}))
    with FakeOpenWebUI() as webui:
        assert canary.main(argv(tmp_path / "c.prom", secrets, {"webui-socket": webui.url})) == 0
    s = parse((tmp_path / "c.prom").read_text())
    assert s[("qwen3_canary_success", "webui-socket")] == 0 and webui.created == []


def test_atomic_write_keeps_the_old_file_when_the_replace_fails(tmp_path, monkeypatch):
    out = tmp_path / "qwen3_canary.prom"
    out.write_text("old\n")
    seen = []

    def failing_replace(src, dst):
        seen.append((Path(src).parent, Path(src).name, stat.S_IMODE(os.stat(src).st_mode)))
        raise OSError("disk full")

    monkeypatch.setattr(textfile.os, "replace", failing_replace)
    with pytest.raises(OSError):
        textfile.write_atomically(out, "new\n")
    assert out.read_text() == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == ["qwen3_canary.prom"]
    parent, name, mode = seen[0]
    assert parent == tmp_path and not name.endswith(".prom") and mode == 0o644  # same dir, never read as .prom
    monkeypatch.undo()
    textfile.write_atomically(out, "new\n")
    assert out.read_text() == "new\n" and stat.S_IMODE(out.stat().st_mode) == 0o644


def test_wrong_arguments_exit_2_and_secrets_stay_out_of_argv(tmp_path, secrets):
    for bad in (["--target", "gateway=http://x"], ["--target", "engine=ftp://x"], []):
        with pytest.raises(SystemExit) as exc:
            canary.main(["--out", str(tmp_path / "c.prom"), "--model", "m", *bad])
        assert exc.value.code == 2
    for out in (tmp_path / "c.txt", tmp_path / "missing" / "c.prom"):
        with pytest.raises(SystemExit):
            canary.main(["--out", str(out), "--model", "m", "--target", "engine=http://x"])
    with pytest.raises(SystemExit):
        canary.main(["--print", "--model", "m", "--target", "webui=http://x", "--target", "webui=http://y"])
    args = canary.build_parser().parse_args(argv(tmp_path / "c.prom", secrets, {"engine": "http://127.0.0.1:1"}))
    assert "sk-canary-key" not in " ".join(str(v) for v in vars(args).values())
    (target,) = canary.build_targets(args)
    assert (target.name, target.kind, target.token) == ("engine", "vllm", "sk-canary-key")


def test_dispatch_and_print(secrets, capsys, tmp_path):
    with FakeStreamServer(FakeScript(ttft_s=0.001, itl_s=0.001, tokens=3)) as engine:
        args = argv(tmp_path / "unused.prom", secrets, {"engine": engine.url}, "--engine-kind", "openai", "--print")
        assert hosttools_main(["canary", *args]) == 0
    assert not (tmp_path / "unused.prom").exists()
    assert parse(capsys.readouterr().out)[("qwen3_canary_success", "engine")] == 1


def test_a_failed_sweep_is_a_warning(monkeypatch):
    class Http:
        def get(self, url, **kw):
            return type("R", (), {"status_code": 401, "json": lambda self: {"detail": "no"}})()

    assert canary.sweep_chats("http://h", "t", "p", http=Http()) == [
        "chat sweep: listing the canary account's chats gave HTTP 401"]
    assert not canary.is_canary_chat({"chat": {"messages": []}}, "p")
    assert canary.is_canary_chat({"chat": {"messages": [{"role": "user", "content": "p"}]}}, "p")
