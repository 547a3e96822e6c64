"""Streaming latency probe for the deployed endpoints (vLLM, Ollama, Open WebUI).

Runs on the served host itself (services bind 127.0.0.1), so it needs only the standard
library (Python >= 3.9) and ``requests``; the Open WebUI browser path (Socket.IO) also needs
``python-socketio[client]``, imported only when that path is measured.

Definitions used in every report (say which one you quote):

* ``ttfb_ms``  time to first byte of the HTTP response body (browser path: first Socket.IO
  event for the message).
* ``ttfc_ms``  time to first chunk: the first streamed event that carries ``choices`` (or an
  Ollama ``message``), empty role chunks and reasoning included. This is what
  ``vllm bench serve`` calls TTFT.
* ``ttft_ms``  time to first token: the first event with non-empty *content* (reasoning does
  not count, nor does text inside ``<think>...</think>``; whitespace does count). This is the
  llmperf / aiperf definition and the one thresholds use.
* ``itl_ms``   gaps between consecutive content-bearing events after the first.
* ``decode_tokens_per_s``  (tokens - 1) / (last content event - first content event); tokens
  from the server's usage numbers when it sends them, else one per content event.
* ``tokens_per_event`` / ``chars_per_event``  output tokens (chars) per content event.

The parsers take ``(timestamp, line)`` pairs, so recorded streams replay without sleeping
(tests feed fixtures through them with recorded timestamps).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import queue
import re
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import requests
import urllib3.exceptions as u3

TOOL_VERSION = "1"
KINDS = ("vllm", "ollama", "webui", "webui-socket")
KIND_TITLES = {
    "vllm": "vLLM /v1/chat/completions (SSE)",
    "ollama": "Ollama /api/chat (NDJSON)",
    "webui": "Open WebUI /api/chat/completions (SSE)",
    "webui-socket": "Open WebUI browser path (Socket.IO /ws/socket.io)",
}
ENGINE_KINDS = ("vllm", "ollama")
WEBUI_KINDS = ("webui", "webui-socket")
DEFAULT_PROMPT = "Count from one to forty in English words, separated by spaces."
THINK_BLOCK = re.compile(r"<think>(.*?)(</think>|$)", re.S)
PERCENTILES = (50, 95)
# Metrics summarised per target: name -> unit.
METRICS = {
    "ttft_ms": "ms",
    "ttfc_ms": "ms",
    "ttfb_ms": "ms",
    "itl_ms": "ms",
    "total_ms": "ms",
    "decode_tokens_per_s": "tok/s",
    "tokens_per_event": "tok",
    "chars_per_event": "chars",
    "events": "events",
    "output_tokens": "tok",
}


# --------------------------------------------------------------------------------------
# Per-request accumulation (pure: timestamps come from the caller)
# --------------------------------------------------------------------------------------


@dataclass
class RequestResult:
    """One measured request. Times are milliseconds from the moment the request was sent."""

    target: str
    index: int
    sent_at: float = 0.0  # the caller's clock when the request went out (correlation with server logs)
    ok: bool = False
    error: str | None = None
    error_kind: str | None = None
    status: int | None = None
    ttfb_ms: float | None = None
    ttfc_ms: float | None = None
    ttft_ms: float | None = None
    total_ms: float | None = None
    itl_ms: list[float] = field(default_factory=list)
    events: int = 0
    content_events: int = 0
    keepalives: int = 0
    content_chars: int = 0
    output_tokens: int | None = None
    tokens_source: str = "events"
    decode_tokens_per_s: float | None = None
    server_decode_tokens_per_s: float | None = None
    tokens_per_event: float | None = None
    chars_per_event: float | None = None
    thinking_leak: bool = False
    thinking_chars: int = 0
    thinking_sources: list[str] = field(default_factory=list)
    empty_think_block: bool = False
    finish_reason: str | None = None
    done: bool = False
    text: str = ""


class Accumulator:
    """Collects the events of one streamed request and turns them into a RequestResult.

    All times are absolute seconds on the caller's clock; ``t0`` is when the request went out.
    """

    def __init__(self, target: str, index: int, t0: float):
        self.r = RequestResult(target=target, index=index, sent_at=t0)
        self.t0 = t0
        self._first_byte: float | None = None
        self._first_chunk: float | None = None
        self._content_times: list[float] = []
        self._text: list[str] = []
        self._usage_tokens: int | None = None
        self._ended: float | None = None
        self._first_visible: float | None = None

    def ms(self, t: float) -> float:
        return round((t - self.t0) * 1000.0, 3)

    def byte(self, t: float) -> None:
        if self._first_byte is None:
            self._first_byte = t

    def keepalive(self, t: float) -> None:
        self.byte(t)
        self.r.keepalives += 1

    def chunk(self, t: float, content: str | None = "", reasoning: str | None = "",
              source: str = "reasoning") -> None:
        """One streamed event that belongs to the answer (it counts as a chunk)."""
        self.byte(t)
        self.r.events += 1
        if self._first_chunk is None:
            self._first_chunk = t
        if reasoning:
            self.thinking(reasoning, source)
        if content:
            self._content_times.append(t)
            self._text.append(content)
            self.r.content_events += 1
            self.r.content_chars += len(content)
            if self._first_visible is None and visible_text("".join(self._text)):
                self._first_visible = t

    def thinking(self, text: str, source: str) -> None:
        if text and text.strip():
            self.r.thinking_leak = True
            self.r.thinking_chars += len(text)
            if source not in self.r.thinking_sources:
                self.r.thinking_sources.append(source)

    def usage(self, completion_tokens: Any, source: str = "usage") -> None:
        if isinstance(completion_tokens, int) and not isinstance(completion_tokens, bool):
            self._usage_tokens = completion_tokens
            self.r.tokens_source = source

    def server_decode(self, tokens: Any, duration_ns: Any) -> None:
        if isinstance(tokens, int) and isinstance(duration_ns, (int, float)) and duration_ns > 0:
            self.r.server_decode_tokens_per_s = round(tokens / (duration_ns / 1e9), 3)

    def fail(self, message: str, kind: str) -> None:
        if self.r.error is None:
            self.r.error = message
            self.r.error_kind = kind

    def mark_done(self, t: float, finish_reason: str | None = None) -> None:
        self.r.done = True
        if finish_reason:
            self.r.finish_reason = finish_reason
        if self._ended is None:
            self._ended = t

    def finish(self, t_end: float) -> RequestResult:
        r = self.r
        end = self._ended if self._ended is not None else t_end
        r.total_ms = self.ms(end)
        if self._first_byte is not None:
            r.ttfb_ms = self.ms(self._first_byte)
        if self._first_chunk is not None:
            r.ttfc_ms = self.ms(self._first_chunk)
        times = self._content_times
        if self._first_visible is not None:
            r.ttft_ms = self.ms(self._first_visible)
        if times:
            # index loop, not itertools.pairwise: the host may run Python 3.9 (EL9)
            r.itl_ms = [round((times[i] - times[i - 1]) * 1000.0, 3) for i in range(1, len(times))]
        r.text = "".join(self._text)
        self._check_think_tags(r)
        if self._usage_tokens is not None:
            r.output_tokens = self._usage_tokens
        else:
            r.output_tokens = r.content_events
            r.tokens_source = "events"
        if r.content_events:
            r.tokens_per_event = round(r.output_tokens / r.content_events, 3) if r.output_tokens else None
            r.chars_per_event = round(r.content_chars / r.content_events, 3)
        if len(times) >= 2 and times[-1] > times[0] and r.output_tokens and r.output_tokens > 1:
            r.decode_tokens_per_s = round((r.output_tokens - 1) / (times[-1] - times[0]), 3)
        if r.error is None and not r.done:
            self.fail("stream ended before the server said it was done (cut off)", "cut_off")
        if r.error is None and self._first_visible is None:
            self.fail("stream finished without any visible content", "no_content")
        r.ok = r.error is None
        return r

    @staticmethod
    def _check_think_tags(r: RequestResult) -> None:
        for match in THINK_BLOCK.finditer(r.text):
            inner = match.group(1)
            if inner.strip():
                r.thinking_leak = True
                r.thinking_chars += len(inner.strip())
                if "content <think>" not in r.thinking_sources:
                    r.thinking_sources.append("content <think>")
            else:
                r.empty_think_block = True


def visible_text(text: str) -> str:
    """Content as a reader sees it: ``<think>...</think>`` blocks (closed or not) removed."""
    return THINK_BLOCK.sub("", text)


# --------------------------------------------------------------------------------------
# Stream parsers: (t, line) pairs -> Accumulator calls
# --------------------------------------------------------------------------------------


def split_lines(timed_chunks: Iterable[tuple[float, bytes]], acc: Accumulator | None = None
                ) -> Iterator[tuple[float, str]]:
    """Split timed byte chunks into timed text lines.

    A line gets the time of the chunk that completed it. A trailing line without a newline
    (cut-off stream) is still yielded at the end.
    """
    buf = b""
    t_last = 0.0
    for t, chunk in timed_chunks:
        if not chunk:
            continue
        if acc is not None:
            acc.byte(t)
        t_last = t
        buf += chunk
        while True:
            nl = buf.find(b"\n")
            if nl < 0:
                break
            line, buf = buf[:nl], buf[nl + 1:]
            yield t, line.rstrip(b"\r").decode("utf-8", "replace")
    if buf:
        yield t_last, buf.rstrip(b"\r").decode("utf-8", "replace")


def _openai_event(acc: Accumulator, t: float, obj: Any) -> None:
    if not isinstance(obj, dict):
        acc.fail(f"unexpected event: {str(obj)[:200]}", "protocol")
        return
    if obj.get("error"):
        err = obj["error"]
        msg = err.get("message") if isinstance(err, dict) else err
        acc.fail(f"server error in stream: {str(msg)[:300]}", "server_error")
        return
    usage = obj.get("usage")
    if isinstance(usage, dict):
        acc.usage(usage.get("completion_tokens"))
    choices = obj.get("choices")
    if not choices:
        return
    choice = choices[0] if isinstance(choices[0], dict) else {}
    delta = choice.get("delta") or {}
    reasoning = delta.get("reasoning") or ""
    source = "delta.reasoning"
    if delta.get("reasoning_content"):
        reasoning = delta.get("reasoning_content")
        source = "delta.reasoning_content"
    acc.chunk(t, delta.get("content") or "", reasoning, source)
    if choice.get("finish_reason"):
        acc.r.finish_reason = choice["finish_reason"]


def feed_sse(acc: Accumulator, lines: Iterable[tuple[float, str]]) -> None:
    """OpenAI-style Server-Sent Events (vLLM, Open WebUI). Comments are keep-alives."""
    data: list[str] = []
    t_data = 0.0

    def dispatch() -> bool:
        payload = "\n".join(data)
        data.clear()
        if not payload:
            return False
        if payload.strip() == "[DONE]":
            acc.mark_done(t_data)
            return True
        try:
            obj = json.loads(payload)
        except ValueError:
            acc.fail(f"undecodable SSE data: {payload[:200]!r}", "protocol")
            return False
        _openai_event(acc, t_data, obj)
        return False

    for t, line in lines:
        if line == "":
            if dispatch():
                return
            continue
        if line.startswith(":"):
            acc.keepalive(t)
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
            t_data = t
        # event:, id:, retry: carry nothing we measure.
    if data:
        # Last event without its blank line: fine if it parses, else the stream was cut inside it.
        payload = "\n".join(data)
        try:
            json.loads(payload)
        except ValueError:
            if payload.strip() != "[DONE]":
                acc.fail("stream cut off inside an event", "cut_off")
                return
        dispatch()


def feed_ndjson(acc: Accumulator, lines: Iterable[tuple[float, str]]) -> None:
    """Ollama /api/chat streaming (one JSON object per line)."""
    bad: str | None = None
    for t, line in lines:
        if not line.strip():
            continue
        if bad is not None:
            acc.fail(f"undecodable NDJSON line: {bad[:200]!r}", "protocol")
            bad = None
        try:
            obj = json.loads(line)
        except ValueError:
            bad = line  # the last line of a cut stream, or garbage: decided by what follows
            continue
        if not isinstance(obj, dict):
            continue
        if obj.get("error"):
            acc.fail(f"server error in stream: {str(obj['error'])[:300]}", "server_error")
            return
        msg = obj.get("message")
        if isinstance(msg, dict):
            acc.chunk(t, msg.get("content") or "", msg.get("thinking") or "", "message.thinking")
        if obj.get("done"):
            acc.usage(obj.get("eval_count"), "eval_count")
            acc.server_decode(obj.get("eval_count"), obj.get("eval_duration"))
            acc.mark_done(t, obj.get("done_reason"))
            return
    if bad is not None:
        acc.fail("stream cut off inside a line", "cut_off")


def _output_text(output: Any) -> str:
    """Text of the message items in an Open WebUI ``output`` list (responses-style)."""
    text = []
    if isinstance(output, list):
        for item in output:
            if isinstance(item, dict) and item.get("type") == "message":
                for part in item.get("content") or []:
                    if isinstance(part, dict) and isinstance(part.get("text"), str):
                        text.append(part["text"])
    return "".join(text)


def _output_reasoning(output: Any) -> str:
    text = []
    if isinstance(output, list):
        for item in output:
            if isinstance(item, dict) and item.get("type") == "reasoning":
                for part in (item.get("content") or []) + (item.get("summary") or []):
                    if isinstance(part, dict) and isinstance(part.get("text"), str):
                        text.append(part["text"])
    return "".join(text)


def feed_socket_event(acc: Accumulator, t: float, payload: dict) -> bool:
    """One Open WebUI ``events`` message for our message id. Returns True when it ends the turn.

    Open WebUI 0.12.4 (utils/middleware.py, socket/main.py) emits ``events`` with
    ``{"chat_id", "message_id", "data": {"type": ..., "data": ...}}``; text arrives as
    ``response:completion`` / ``response.output_text.delta`` (reasoning as
    ``response.reasoning_text.delta``), batched by ``stream_delta_chunk_size``; the turn ends
    with ``chat:completion`` ``{"done": true}``; failures come as ``chat:message:error``.
    """
    acc.byte(t)
    event = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(event, dict):
        return False
    etype = event.get("type")
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    if etype == "response:completion":
        dtype = str(data.get("type") or "")
        if data.get("choices") and not dtype:
            # The engine's raw first chunk (role), passed through before the deltas: a chunk, no text.
            acc.chunk(t, "", "")
        elif dtype == "response.output_text.delta":
            acc.chunk(t, data.get("delta") or "")
        elif dtype.startswith("response.reasoning") and dtype.endswith(".delta"):
            acc.chunk(t, "", data.get("delta") or "", "response.reasoning_text.delta")
        elif dtype == "response.failed" or data.get("error"):
            acc.fail(f"server error: {str(data.get('error') or data)[:300]}", "server_error")
            return True
        return False
    if etype == "chat:message:error":
        err = data.get("error")
        msg = err.get("content") if isinstance(err, dict) else err
        acc.fail(f"server error: {str(msg)[:300]}", "server_error")
        return True
    if etype == "chat:completion":
        if data.get("error"):
            err = data["error"]
            msg = err.get("content") if isinstance(err, dict) else err
            acc.fail(f"server error: {str(msg)[:300]}", "server_error")
            return True
        usage = data.get("usage")
        if isinstance(usage, dict):
            acc.usage(usage.get("completion_tokens") or usage.get("output_tokens"))
        if "output" in data:
            # A full snapshot (sent when Open WebUI rewrites the text, e.g. stripped tags):
            # anything beyond the text seen so far counts as content of this event.
            seen = sum(len(x) for x in acc._text)
            text = _output_text(data["output"])
            extra = text[seen:] if len(text) > seen else ""
            reasoning = _output_reasoning(data["output"])
            if reasoning.strip() and "output reasoning item" not in acc.r.thinking_sources:
                acc.thinking(reasoning, "output reasoning item")
            if extra and not data.get("done"):
                acc.chunk(t, extra)
        if data.get("done"):
            acc.mark_done(t, data.get("finish_reason"))
            return True
    return False


def replay(kind: str, rows: Iterable[dict], message_id: str | None = None) -> RequestResult:
    """Re-measure a recorded stream: rows ``{"t": s, "chunk": text}`` (HTTP) or
    ``{"t": s, "event": "events", "data": {...}}`` (Socket.IO), ``t`` in seconds after the
    request was sent. Rows without ``t`` (comments) are skipped. No sleeping."""
    rows = [r for r in rows if "t" in r]
    acc = Accumulator(kind, 0, 0.0)
    if kind == "webui-socket":
        for row in rows:
            payload = row.get("data") or {}
            if message_id is not None and payload.get("message_id") != message_id:
                continue
            if feed_socket_event(acc, row["t"], payload):
                break
    else:
        chunks = ((row["t"], row["chunk"].encode("utf-8")) for row in rows)
        (feed_ndjson if kind == "ollama" else feed_sse)(acc, split_lines(chunks, acc))
    return acc.finish(rows[-1]["t"] if rows else 0.0)


def load_fixture(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _relative(record: list | None, t0: float) -> None:
    for row in record or []:
        row["t"] = round(row["t"] - t0, 6)


# --------------------------------------------------------------------------------------
# Live transport (requests / python-socketio)
# --------------------------------------------------------------------------------------


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
        return "/api/chat", {
            "model": target.model, "messages": messages, "stream": True, "think": False,
            "options": {"num_predict": max_tokens, "temperature": 0},
        }
    body = {
        "model": target.model, "messages": messages, "stream": True,
        "max_tokens": max_tokens, "temperature": 0,
        "stream_options": {"include_usage": True},
    }
    if target.kind in WEBUI_KINDS and target.params:
        body["params"] = dict(target.params)
    return "/v1/chat/completions" if target.kind == "vllm" else "/api/chat/completions", body


def _classify(exc: BaseException) -> str:
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
        acc.fail(f"{type(exc).__name__}: {str(exc)[:300]}", _classify(exc))
    _relative(record, t0)
    return acc.finish(clock())


def _bounded(lines: Iterator[tuple[float, str]], clock: Callable[[], float], deadline: float,
             acc: Accumulator) -> Iterator[tuple[float, str]]:
    for item in lines:
        yield item
        if clock() > deadline:
            acc.fail("request exceeded its time limit while streaming", "read_timeout")
            return


class SocketPath:
    """Open WebUI's browser path: POST with chat_id/session_id/id, text over Socket.IO."""

    def __init__(self, target: Target, session: Any, timeout_s: float,
                 clock: Callable[[], float] = time.perf_counter, params: dict | None = None):
        try:
            import socketio  # noqa: PLC0415 - python-socketio[client]; only this path needs it
        except ImportError as exc:
            raise RuntimeError(f"python-socketio[client] is not installed for {sys.executable}") from exc

        self.target = target
        self.session = session
        self.timeout_s = timeout_s
        self.clock = clock
        self.params = params or {}
        self.events: queue.Queue = queue.Queue()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("events", self._on_event)
        try:  # the page uses a websocket; fall back to polling-then-upgrade behind odd proxies
            self.sio.connect(target.base_url, socketio_path="/ws/socket.io", auth={"token": target.token},
                             transports=["websocket"], wait_timeout=min(10, timeout_s))
        except socketio.exceptions.ConnectionError:
            self.sio = socketio.Client(reconnection=False)
            self.sio.on("events", self._on_event)
            self.sio.connect(target.base_url, socketio_path="/ws/socket.io", auth={"token": target.token},
                             wait_timeout=min(10, timeout_s))
        # A temporary (unsaved) chat, as Open WebUI 0.12.4 names them: nothing is written to its database.
        self.chat_id = f"temporary:{self.sio.get_sid()}"

    def _on_event(self, payload: Any) -> None:
        self.events.put((self.clock(), payload))

    def close(self) -> None:
        try:
            self.sio.disconnect()
        except Exception as exc:
            print(f"warning: Socket.IO disconnect: {exc}", file=sys.stderr)

    def measure(self, index: int, prompt: str, max_tokens: int,
                record: list | None = None) -> RequestResult:
        message_id = str(uuid.uuid4())
        body = {
            "model": self.target.model, "stream": True,
            "messages": [{"role": "user", "content": prompt}],
            "params": {"max_tokens": max_tokens, "temperature": 0, **self.params},
            "chat_id": self.chat_id, "id": message_id, "session_id": self.sio.get_sid(),
            "background_tasks": {}, "features": {},
        }
        t0 = self.clock()
        acc = Accumulator(self.target.name, index, t0)
        deadline = t0 + self.timeout_s
        try:
            resp = self.session.post(self.target.base_url + "/api/chat/completions", json=body,
                                     headers={"Authorization": f"Bearer {self.target.token}"},
                                     timeout=(min(10.0, self.timeout_s), self.timeout_s))
            acc.r.status = resp.status_code
            if resp.status_code != 200:
                acc.fail(f"HTTP {resp.status_code} from /api/chat/completions: "
                         f"{resp.text[:300]}", f"http_{resp.status_code}")
                return acc.finish(self.clock())
            while True:
                left = deadline - self.clock()
                if left <= 0:
                    acc.fail("no end of turn over Socket.IO within the time limit", "read_timeout")
                    break
                try:
                    t, payload = self.events.get(timeout=left)
                except queue.Empty:
                    continue
                if not isinstance(payload, dict) or payload.get("message_id") != message_id:
                    continue
                if record is not None:
                    record.append({"t": t, "event": "events", "data": payload})
                if feed_socket_event(acc, t, payload):
                    break
        except Exception as exc:
            acc.fail(f"{type(exc).__name__}: {str(exc)[:300]}", _classify(exc))
        _relative(record, t0)
        return acc.finish(self.clock())


def webui_signin(session: Any, base_url: str, email: str, password: str, timeout_s: float = 15) -> str:
    """Open WebUI JWT for the browser path (Socket.IO needs a JWT, not an sk- API key)."""
    resp = session.post(base_url.rstrip("/") + "/api/v1/auths/signin",
                        json={"email": email, "password": password}, timeout=timeout_s)
    if resp.status_code != 200:
        raise RuntimeError(f"Open WebUI sign-in failed: HTTP {resp.status_code} {resp.text[:200]}")
    return resp.json()["token"]


def probe(session: Any, target: Target, timeout_s: float = 5.0) -> str | None:
    """None when the endpoint answers, else a one-line reason (used before measuring)."""
    path = {"vllm": "/health", "ollama": "/api/version"}.get(target.kind, "/health")
    try:
        session.get(target.base_url + path, timeout=timeout_s)
    except Exception as exc:
        what = {"vllm": "engine (vLLM)", "ollama": "engine (Ollama)"}.get(target.kind, "Open WebUI")
        return f"{what} not reachable at {target.base_url} ({type(exc).__name__})"
    return None


def run_target(target: Target, *, n: int, warmup: int, prompt: str, max_tokens: int,
               timeout_s: float, deadline: float, session: Any = None,
               clock: Callable[[], float] = time.perf_counter,
               record: dict | None = None) -> dict:
    """Warm up, then measure up to ``n`` requests before ``deadline`` (clock seconds)."""
    session = session or requests.Session()
    out: dict[str, Any] = {"target": target.name, "kind": target.kind, "url": target.base_url,
                           "model": target.model, "title": KIND_TITLES[target.kind],
                           "requested": n, "warmup": warmup, "results": [], "warmup_results": [],
                           "skipped": 0, "unreachable": None}
    reason = target.problem or probe(session, target)
    if reason:
        out["unreachable"] = reason
        out["skipped"] = n
        return out
    sock = None
    try:
        if target.kind == "webui-socket":
            try:
                sock = SocketPath(target, session, timeout_s, clock, target.params)
            except Exception as exc:
                out["unreachable"] = f"Socket.IO connect to {target.base_url}/ws/socket.io failed: {exc}"
                out["skipped"] = n
                return out

        def one(i: int) -> RequestResult:
            rec: list | None = [] if record is not None else None
            if sock is not None:
                res = sock.measure(i, prompt, max_tokens, rec)
            else:
                res = measure_http(session, target, i, prompt=prompt, max_tokens=max_tokens,
                                   timeout_s=min(timeout_s, max(1.0, deadline - clock())),
                                   clock=clock, record=rec)
            if record is not None:
                record.setdefault(target.name, []).append(rec)
            return res

        for i in range(warmup):
            if clock() >= deadline:
                break
            out["warmup_results"].append(asdict(one(-1 - i)))
        for i in range(n):
            if clock() >= deadline:
                out["skipped"] = n - i
                break
            out["results"].append(asdict(one(i)))
    finally:
        if sock is not None:
            sock.close()
    return out


# --------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float | None:
    """Linear-interpolated percentile (numpy's default method); None for no values."""
    vals = sorted(v for v in values if v is not None and not math.isnan(v))
    if not vals:
        return None
    k = (len(vals) - 1) * p / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return round(vals[lo] + (vals[hi] - vals[lo]) * (k - lo), 3)


def describe(values: list[float]) -> dict:
    vals = [v for v in values if v is not None]
    out = {"n": len(vals)}
    for p in PERCENTILES:
        out[f"p{p}"] = percentile(vals, p)
    out["max"] = round(max(vals), 3) if vals else None
    out["min"] = round(min(vals), 3) if vals else None
    out["mean"] = round(sum(vals) / len(vals), 3) if vals else None
    return out


def chars_per_token(run: dict) -> float | None:
    """Characters per token from a run whose server reported token counts (usage / eval_count)."""
    ok = [r for r in run["results"] if r["ok"] and r["tokens_source"] != "events" and r["output_tokens"]]
    tokens = sum(r["output_tokens"] for r in ok)
    return round(sum(r["content_chars"] for r in ok) / tokens, 4) if tokens else None


def summarize_target(run: dict, engine_chars_per_token: float | None = None) -> dict:
    """Stats of one target. Where the path reports no token counts (Open WebUI's browser path may
    not), tokens per event are estimated from characters with the engine's chars/token."""
    results = run["results"]
    ok = [r for r in results if r["ok"]]
    errors: dict[str, int] = {}
    for r in results:
        if not r["ok"]:
            errors[r["error_kind"] or "error"] = errors.get(r["error_kind"] or "error", 0) + 1
    attempted = len(results)
    sources = sorted({r["tokens_source"] for r in ok})
    estimate = bool(ok) and sources == ["events"] and run["kind"] in WEBUI_KINDS and bool(engine_chars_per_token)
    if estimate:
        sources = [f"chars / {engine_chars_per_token} chars per engine token"]
    stats: dict[str, Any] = {}
    for name in METRICS:
        if name == "itl_ms":
            stats[name] = describe([x for r in ok for x in r["itl_ms"]])
        elif name == "tokens_per_event" and estimate:
            stats[name] = describe([r["chars_per_event"] / engine_chars_per_token for r in ok
                                    if r["chars_per_event"] is not None])
        else:
            stats[name] = describe([r[name] for r in ok])
    return {
        "target": run["target"], "kind": run["kind"], "title": run["title"], "url": run["url"],
        "model": run["model"], "requested": run["requested"], "attempted": attempted,
        "ok": len(ok), "errors": errors, "skipped": run["skipped"],
        "error_rate": (round((attempted - len(ok)) / attempted, 4) if attempted
                       else (1.0 if run["unreachable"] else 0.0)),
        "unreachable": run["unreachable"],
        "thinking_leaks": sum(1 for r in results if r["thinking_leak"]),
        "thinking_sources": sorted({s for r in results for s in r["thinking_sources"]}),
        "empty_think_blocks": sum(1 for r in results if r["empty_think_block"]),
        "tokens_source": sources,
        "stats": stats,
        "first_error": next((r["error"] for r in results if r["error"]), None),
    }


def summarize(runs: list[dict]) -> dict:
    engine_run = next((run for run in runs if run["kind"] in ENGINE_KINDS), None)
    cpt = chars_per_token(engine_run) if engine_run else None
    targets = {run["target"]: summarize_target(run, cpt) for run in runs}
    engine = targets[engine_run["target"]] if engine_run else None
    overhead = {}
    for t in targets.values():
        if t["kind"] in WEBUI_KINDS and engine is not None:
            entry = {}
            for p in ("p50", "p95"):
                a, b = t["stats"]["ttft_ms"][p], engine["stats"]["ttft_ms"][p]
                entry[f"ttft_{p}_ms"] = round(a - b, 3) if a is not None and b is not None else None
            overhead[t["target"]] = entry
    return {"targets": targets, "engine_target": engine["target"] if engine else None,
            "webui_overhead": overhead}


# --------------------------------------------------------------------------------------
# Thresholds
# --------------------------------------------------------------------------------------


@dataclass
class Failure:
    metric: str
    value: Any
    limit: Any
    target: str
    note: str = ""


# Known threshold keys and what they check.
THRESHOLD_KEYS = {
    "ttft_p95_ms": "engine target: p95 time to first content token <= limit",
    "ttft_p50_ms": "engine target: p50 time to first content token <= limit",
    "itl_p95_ms": "engine target: p95 inter-token latency <= limit",
    "webui_ttft_p95_ms": "each Open WebUI target: p95 TTFT <= limit",
    "webui_overhead_p50_ms": "each Open WebUI target: p50 TTFT minus engine p50 TTFT <= limit",
    "min_decode_tokens_per_s": "engine target: p50 decode tokens/s >= limit",
    "max_tokens_per_event": "every target: p50 output tokens per content event, rounded, <= limit",
    "thinking_allowed": "false: no request on any target may stream reasoning / <think> text",
    "max_error_rate": "every target: failed / attempted requests <= limit",
}


def check_thresholds(summary: dict, thresholds: dict) -> list[Failure]:
    """Compare a run summary with thresholds; return one Failure per missed limit.

    A threshold whose measurement is missing (target unreachable, no successful request)
    fails too: a check that cannot be made is not a pass.
    """
    fails: list[Failure] = []
    targets = summary["targets"]
    engine = targets.get(summary.get("engine_target") or "")

    def cmp(metric: str, value: Any, limit: Any, target: str, *, higher_is_better: bool = False,
            note: str = "") -> None:
        if value is None:
            fails.append(Failure(metric, "not measured", limit, target, note or "no successful request"))
        elif (value < limit) if higher_is_better else (value > limit):
            fails.append(Failure(metric, value, limit, target, note))

    for key, limit in thresholds.items():
        if key not in THRESHOLD_KEYS:
            fails.append(Failure(key, "unknown threshold", limit, "-",
                                 "known: " + ", ".join(sorted(THRESHOLD_KEYS))))
            continue
        if limit is None:
            continue
        if key in ("ttft_p95_ms", "ttft_p50_ms", "itl_p95_ms", "min_decode_tokens_per_s"):
            if engine is None:
                fails.append(Failure(key, "not measured", limit, "-", "no engine target in this run"))
                continue
            if key == "min_decode_tokens_per_s":
                cmp(key, engine["stats"]["decode_tokens_per_s"]["p50"], limit, engine["target"],
                    higher_is_better=True, note="p50 over requests")
            else:
                metric, p = key.rsplit("_", 2)[0], key.split("_")[-2]
                cmp(key, engine["stats"][f"{metric}_ms"][p], limit, engine["target"])
        elif key == "webui_ttft_p95_ms":
            for t in targets.values():
                if t["kind"] in WEBUI_KINDS:
                    cmp(key, t["stats"]["ttft_ms"]["p95"], limit, t["target"])
        elif key == "webui_overhead_p50_ms":
            for name, ov in summary.get("webui_overhead", {}).items():
                cmp(key, ov.get("ttft_p50_ms"), limit, name, note="p50 TTFT minus engine p50 TTFT")
        elif key == "max_tokens_per_event":
            # p50 over requests, rounded to a whole token: engines' detokenizers merge the odd
            # token (an incomplete UTF-8 byte), which must not read as batching.
            for t in targets.values():
                if t["ok"]:
                    v = t["stats"]["tokens_per_event"]["p50"]
                    rounded = math.floor(v + 0.5) if v is not None else None
                    cmp(key, rounded, limit, t["target"],
                        note=f"p50 {v} rounded; tokens from " + "/".join(t["tokens_source"]))
        elif key == "thinking_allowed":
            if not limit:
                for t in targets.values():
                    if t["thinking_leaks"]:
                        fails.append(Failure("thinking_leaks", t["thinking_leaks"], 0, t["target"],
                                             "via " + ", ".join(t["thinking_sources"])))
        elif key == "max_error_rate":
            for t in targets.values():
                note = t["unreachable"] or t["first_error"] or ""
                cmp(key, t["error_rate"], limit, t["target"], note=str(note)[:160])
    return fails


def failure_table(fails: list[Failure]) -> str:
    """Plain-text table (metric, target, measured, limit, note) for logs and Ansible messages."""
    rows = [("metric", "target", "measured", "limit", "note")]
    rows += [(f.metric, f.target, str(f.value), str(f.limit), f.note) for f in fails]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = []
    for j, r in enumerate(rows):
        lines.append("  ".join(r[i].ljust(widths[i]) for i in range(4)) + ("  " + r[4] if r[4] else ""))
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# Whole run + CLI
# --------------------------------------------------------------------------------------


def run(targets: list[Target], *, n: int, warmup: int, prompt: str, max_tokens: int,
        timeout_s: float, time_limit_s: float, clock: Callable[[], float] = time.perf_counter,
        record: dict | None = None) -> dict:
    """Measure every target in turn, bounded by ``n`` and ``time_limit_s`` overall."""
    start_wall = time.time()
    deadline = clock() + time_limit_s
    runs = []
    with requests.Session() as session:
        for target in targets:
            runs.append(run_target(target, n=n, warmup=warmup, prompt=prompt, max_tokens=max_tokens,
                                   timeout_s=timeout_s, deadline=deadline, session=session,
                                   clock=clock, record=record))
    return {
        "tool": "qwen3-latency", "tool_version": TOOL_VERSION,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start_wall)),
        "duration_s": round(time.time() - start_wall, 3),
        "host": os.uname().nodename,
        "settings": {"n": n, "warmup": warmup, "max_tokens": max_tokens, "timeout_s": timeout_s,
                     "time_limit_s": time_limit_s, "prompt": prompt},
        "definitions": {
            "ttft_ms": "first event with non-empty content (llmperf/aiperf); reasoning and <think> text excluded",
            "ttfc_ms": "first streamed chunk with choices/message, empty role chunks included "
                       "(vllm bench serve's TTFT)",
            "ttfb_ms": "first byte of the response body (browser path: first Socket.IO event)",
            "itl_ms": "gap between consecutive content events",
            "decode_tokens_per_s": "(tokens-1)/(last content - first content)",
        },
        "runs": runs,
        "summary": summarize(runs),
    }


def _targets_from_args(args: argparse.Namespace) -> list[Target]:
    env = os.environ
    out = []
    if args.vllm_url:
        out.append(Target("vllm", args.vllm_url, args.model, env.get(args.api_key_env)))
    if args.ollama_url:
        out.append(Target("ollama", args.ollama_url, args.model))
    if args.webui_url:
        token = env.get(args.webui_token_env)
        email, password = env.get(args.webui_email_env), env.get(args.webui_password_env)
        problem = None
        if not token and email and password:
            try:
                with requests.Session() as s:
                    token = webui_signin(s, args.webui_url, email, password)
            except requests.exceptions.ConnectionError as exc:
                problem = f"Open WebUI not reachable at {args.webui_url} ({type(exc).__name__})"
            except Exception as exc:
                problem = f"Open WebUI sign-in as {email} failed: {str(exc)[:200]}"
        elif not token:
            problem = (f"no Open WebUI credentials: set {args.webui_token_env} (JWT) or "
                       f"{args.webui_email_env} and {args.webui_password_env}")
        for kind in args.webui_paths.split(","):
            if kind.strip():
                out.append(Target(kind.strip(), args.webui_url, args.webui_model or args.model, token,
                                  problem=problem, params=json.loads(args.webui_params)))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="qwen3-latency", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure", help="stream requests and write the JSON results")
    m.add_argument("--vllm-url", help="e.g. http://127.0.0.1:8000")
    m.add_argument("--ollama-url", help="e.g. http://127.0.0.1:11434")
    m.add_argument("--webui-url", help="e.g. http://127.0.0.1:8080")
    m.add_argument("--webui-paths", default="webui,webui-socket",
                   help="comma list of webui, webui-socket (default both)")
    m.add_argument("--model", required=True, help="model name as the engine serves it")
    m.add_argument("--webui-model", help="model id in Open WebUI (default: --model)")
    m.add_argument("--webui-params", default="{}",
                   help='JSON chat params for Open WebUI requests, e.g. \'{"function_calling": "legacy"}\'')
    m.add_argument("-n", "--requests", type=int, default=20, help="measured requests per target")
    m.add_argument("-w", "--warmup", type=int, default=2, help="warm-up requests per target (excluded)")
    m.add_argument("--max-tokens", type=int, default=64)
    m.add_argument("--prompt", default=DEFAULT_PROMPT)
    m.add_argument("--timeout", type=float, default=60.0, help="per-request limit, seconds")
    m.add_argument("--time-limit", type=float, default=600.0, help="whole-run limit, seconds")
    m.add_argument("--api-key-env", default="QWEN3_LATENCY_API_KEY",
                   help="env var holding the vLLM API key")
    m.add_argument("--webui-token-env", default="QWEN3_LATENCY_WEBUI_TOKEN",
                   help="env var holding an Open WebUI JWT (needed by the Socket.IO path)")
    m.add_argument("--webui-email-env", default="QWEN3_LATENCY_WEBUI_EMAIL")
    m.add_argument("--webui-password-env", default="QWEN3_LATENCY_WEBUI_PASSWORD")
    m.add_argument("--thresholds", help="JSON object of thresholds; exit 1 when one is missed")
    m.add_argument("--record", help="write the raw timed stream of every request to this JSON file")
    m.add_argument("-o", "--output", default="-", help="results JSON file (default stdout)")
    r = sub.add_parser("report", help="render JSON results into Markdown, JUnit XML and a PNG")
    r.add_argument("results", help="results JSON written by 'measure'")
    r.add_argument("--out-dir", required=True)
    r.add_argument("--thresholds", help="JSON object of thresholds")
    r.add_argument("--no-plot", action="store_true")
    args = ap.parse_args(argv)

    if args.cmd == "report":
        from qwen3_deploy import report  # noqa: PLC0415 - controller-only, needs this package

        return report.main_report(args)

    if args.requests < 1 or args.warmup < 0 or args.time_limit <= 0:
        ap.error("need --requests >= 1, --warmup >= 0, --time-limit > 0")
    targets = _targets_from_args(args)
    if not targets:
        ap.error("give at least one of --vllm-url, --ollama-url, --webui-url")
    record: dict | None = {} if args.record else None
    doc = run(targets, n=args.requests, warmup=args.warmup, prompt=args.prompt,
              max_tokens=args.max_tokens, timeout_s=args.timeout, time_limit_s=args.time_limit,
              record=record)
    thresholds = json.loads(args.thresholds) if args.thresholds else None
    if thresholds is not None:
        fails = check_thresholds(doc["summary"], thresholds)
        doc["thresholds"] = thresholds
        doc["failures"] = [asdict(f) for f in fails]
    text = json.dumps(doc, indent=1)
    if args.output == "-":
        print(text)
    else:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    if record is not None:
        with open(args.record, "w", encoding="utf-8") as fh:
            json.dump(record, fh)
    unreachable = [t["unreachable"] for t in doc["summary"]["targets"].values() if t["unreachable"]]
    for line in unreachable:
        print(f"ERROR: {line}", file=sys.stderr)
    if thresholds is not None and doc["failures"]:
        print(failure_table(fails), file=sys.stderr)
        return 1
    return 3 if unreachable else 0


if __name__ == "__main__":
    sys.exit(main())
