"""Live HTTP measurement of one streamed request (requests); the parsers live in ``streams``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import requests
import urllib3.exceptions as u3

from qwen3_hosttools.latency.kinds import KINDS, OPENAI_SSE_KINDS, WEBUI_KINDS
from qwen3_hosttools.latency.records import Accumulator, RequestResult
from qwen3_hosttools.latency.streams import feed_ndjson, feed_sse, relative_times, split_lines


@dataclass
class Target:
    kind: str
    base_url: str
    model: str
    token: str | None = None  # Bearer (vLLM API key, Open WebUI API key or JWT)
    params: dict | None = None  # Open WebUI chat params sent with each request (e.g. function_calling)
    name: str = ""
    problem: str | None = None  # set when the target cannot be measured at all (e.g. sign-in failed)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown target kind {self.kind!r}; one of {', '.join(KINDS)}")
        self.base_url = self.base_url.rstrip("/")
        self.name = self.name or self.kind


def iter_raw(resp: Any, clock: Callable[[], float], record: list | None = None
             ) -> Iterator[tuple[float, bytes]]:
    """Yield (arrival time, bytes) as the socket delivers them (no line buffering)."""
    raw = resp.raw
    if getattr(raw, "chunked", False) and raw.supports_chunked_reads():
        source = raw.read_chunked(decode_content=True)
    else:
        def _read1() -> Iterator[bytes]:
            while True:
                block = raw.read1(65536) if hasattr(raw, "read1") else raw.read(1)
                if not block:
                    return
                yield block
        source = _read1()
    for block in source:
        t = clock()
        if record is not None:
            record.append({"t": t, "chunk": block.decode("utf-8", "replace")})
        yield t, block


def request_body(target: Target, prompt: str, max_tokens: int) -> tuple[str, dict]:
    messages = [{"role": "user", "content": prompt}]
    if target.kind == "ollama":
        # No `think` field: measured as clients send it (Open WebUI, curl); the model itself must not think.
        return "/api/chat", {
            "model": target.model, "messages": messages, "stream": True,
            "options": {"num_predict": max_tokens, "temperature": 0},
        }
    body = {
        "model": target.model, "messages": messages, "stream": True,
        "max_tokens": max_tokens, "temperature": 0,
        "stream_options": {"include_usage": True},
    }
    if target.kind in WEBUI_KINDS and target.params:
        body["params"] = dict(target.params)
    return "/v1/chat/completions" if target.kind in OPENAI_SSE_KINDS else "/api/chat/completions", body


def classify(exc: BaseException) -> str:
    if isinstance(exc, u3.ReadTimeoutError):
        return "read_timeout"
    if isinstance(exc, u3.ProtocolError):
        return "cut_off"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "connect_timeout"
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = str(exc)
        if "Read timed out" in text:
            return "read_timeout"
        return "connection"
    if isinstance(exc, requests.exceptions.Timeout):
        return "read_timeout"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "cut_off"
    return "client_error"


def measure_http(session: Any, target: Target, index: int, *, prompt: str, max_tokens: int,
                 timeout_s: float, clock: Callable[[], float] = time.perf_counter,
                 record: list | None = None) -> RequestResult:
    """Send one streamed request over HTTP and measure it. Never raises for network faults."""
    path, body = request_body(target, prompt, max_tokens)
    headers = {"Accept": "text/event-stream" if target.kind != "ollama" else "application/x-ndjson"}
    if target.token:
        headers["Authorization"] = f"Bearer {target.token}"
    t0 = clock()
    acc = Accumulator(target.name, index, t0)
    deadline = t0 + timeout_s
    try:
        resp = session.post(target.base_url + path, json=body, headers=headers, stream=True,
                            timeout=(min(10.0, timeout_s), timeout_s))
        acc.r.status = resp.status_code
        with resp:
            if resp.status_code != 200:
                detail = resp.text[:300].replace("\n", " ")
                acc.fail(f"HTTP {resp.status_code} from {path}: {detail}", f"http_{resp.status_code}")
            else:
                lines = _bounded(split_lines(iter_raw(resp, clock, record), acc), clock, deadline, acc)
                (feed_ndjson if target.kind == "ollama" else feed_sse)(acc, lines)
    except Exception as exc:
        acc.fail(f"{type(exc).__name__}: {str(exc)[:300]}", classify(exc))
    relative_times(record, t0)
    return acc.finish(clock())


def _bounded(lines: Iterator[tuple[float, str]], clock: Callable[[], float], deadline: float,
             acc: Accumulator) -> Iterator[tuple[float, str]]:
    for item in lines:
        yield item
        if clock() > deadline:
            acc.fail("request exceeded its time limit while streaming", "read_timeout")
            return


def webui_signin(session: Any, base_url: str, email: str, password: str, timeout_s: float = 15) -> str:
    """Open WebUI JWT for the browser path (Socket.IO needs a JWT, not an sk- API key)."""
    resp = session.post(base_url.rstrip("/") + "/api/v1/auths/signin",
                        json={"email": email, "password": password}, timeout=timeout_s)
    if resp.status_code != 200:
        raise RuntimeError(f"Open WebUI sign-in failed: HTTP {resp.status_code} {resp.text[:200]}")
    return resp.json()["token"]


def probe(session: Any, target: Target, timeout_s: float = 5.0) -> str | None:
    """None when the endpoint answers, else a one-line reason (used before measuring)."""
    path = {"ollama": "/api/version"}.get(target.kind, "/health")
    try:
        session.get(target.base_url + path, timeout=timeout_s)
    except Exception as exc:
        what = {"vllm": "engine (vLLM)", "ollama": "engine (Ollama)", "openai": "router"}.get(target.kind, "Open WebUI")
        return f"{what} not reachable at {target.base_url} ({type(exc).__name__})"
    return None
