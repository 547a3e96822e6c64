"""One streamed request: timestamps in, a RequestResult out (pure: the caller supplies every time)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

THINK_BLOCK = re.compile(r"<think>(.*?)(</think>|$)", re.S)


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
