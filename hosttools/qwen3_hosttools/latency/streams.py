"""Stream parsers: timed lines or Socket.IO events -> Accumulator calls; replay of recorded streams."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from qwen3_hosttools.latency.records import Accumulator, RequestResult


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


def relative_times(record: list | None, t0: float) -> None:
    for row in record or []:
        row["t"] = round(row["t"] - t0, 6)
