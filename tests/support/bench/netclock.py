"""Where the page's "POST -> first answer text" goes: the network's clock beside the page's.

The page's recorder (browser_page_js) timestamps the POST when the page's JavaScript calls ``fetch`` and the first
answer text when the page's JavaScript receives the socket frame. Both run on the page's main thread, so a frame
that arrives while Open WebUI's front-end code is busy (rendering the new chat, the sidebar) is timestamped late.
Chromium's DevTools protocol reports the same two moments from the network stack, which that code does not hold
up: ``Network.requestWillBeSent`` (the request's ``timestamp``) and ``Network.webSocketFrameReceived`` (the
frame's ``timestamp``), both in seconds on Chromium's monotonic clock
(https://chromedevtools.github.io/devtools-protocol/tot/Network/). Their difference is the server's part plus the
network; the page's interval minus it is time the frame waited for the page's main thread. Differences within
one clock only, so the two clocks never need aligning.
"""

from __future__ import annotations

import json

from ansible_collections.qwen3.deploy.plugins.module_utils import browser_selectors as sel


def first_text_delta(payload: str) -> bool:
    """A Socket.IO ``events`` frame carrying non-empty answer text (what the page's recorder counts as first text)."""
    if not payload.startswith("42"):
        return False
    try:
        message = json.loads(payload[2:])
    except ValueError:
        return False
    if not isinstance(message, list) or len(message) < 2 or not isinstance(message[1], dict):
        return False
    data = message[1].get("data") or {}
    inner = data.get("data") or {}
    return (data.get("type") == "response:completion" and isinstance(inner, dict)
            and inner.get("type") == "response.output_text.delta" and bool(inner.get("delta")))


class NetClock:
    """Network-stack times of one request's POST and first answer-text frame (reset before each Enter)."""

    def __init__(self, completion_path: str = sel.COMPLETION_PATH) -> None:
        self.completion_path = completion_path
        self.reset()

    def reset(self) -> None:
        self.post_ts: float | None = None
        self.first_text_ts: float | None = None

    def on_request(self, params: dict) -> None:
        request = params.get("request") or {}
        if (self.post_ts is None and request.get("method") == "POST"
                and self.completion_path in request.get("url", "")):
            self.post_ts = params.get("timestamp")

    def on_frame(self, params: dict) -> None:
        if self.post_ts is None or self.first_text_ts is not None:
            return
        payload = (params.get("response") or {}).get("payloadData") or ""
        if first_text_delta(payload) and params.get("timestamp", 0) >= self.post_ts:
            self.first_text_ts = params["timestamp"]

    def split(self, page_post_to_first_delta_ms: float | None) -> dict:
        """The network's POST -> first text, and how long the frame then waited for the page's main thread."""
        if self.post_ts is None or self.first_text_ts is None:
            return {"net_post_to_first_delta_ms": None, "frame_wait_for_page_ms": None}
        net = round((self.first_text_ts - self.post_ts) * 1000, 1)
        wait = round(page_post_to_first_delta_ms - net, 1) if page_post_to_first_delta_ms is not None else None
        return {"net_post_to_first_delta_ms": net, "frame_wait_for_page_ms": wait}
