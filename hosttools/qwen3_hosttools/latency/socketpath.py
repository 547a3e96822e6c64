"""Open WebUI's browser path: the chat request over HTTP, its text over Socket.IO (python-socketio).

By default it takes the steps the web page takes for a new chat (pagesteps: the page's request body, the room
join and the sidebar's requests the server's events trigger), so its TTFT is what the page waits for, minus the
page's own JavaScript and painting. ``page_steps=False`` keeps the lighter path (a temporary chat: no chat row,
no sidebar traffic)."""

from __future__ import annotations

import queue
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

from qwen3_hosttools.latency.pagesteps import PageSteps
from qwen3_hosttools.latency.records import Accumulator, RequestResult
from qwen3_hosttools.latency.streams import feed_socket_event, relative_times
from qwen3_hosttools.latency.transport import Target, classify


class SocketPath:
    """Open WebUI's browser path: POST with chat_id/session_id/id, text over Socket.IO."""

    def __init__(self, target: Target, session: Any, timeout_s: float,
                 clock: Callable[[], float] = time.perf_counter, params: dict | None = None, *,
                 page_steps: bool = True):
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
        # Page steps: a new saved chat per message, as the page makes them. Else a temporary (unsaved) chat, as
        # Open WebUI 0.12.4 names them: nothing is written to its database.
        self.page = None
        if page_steps:
            import requests  # noqa: PLC0415 - the side requests get their own connection pool

            self.page = PageSteps(target.base_url, target.token or "", target.model, requests.Session(),
                                  self.sio.emit, timeout_s=min(30.0, timeout_s))
        self.chat_id = f"temporary:{self.sio.get_sid()}"

    def _on_event(self, payload: Any) -> None:
        self.events.put((self.clock(), payload))
        if getattr(self, "page", None) is not None:
            self.page.on_event(payload)

    def close(self) -> None:
        if self.page is not None:
            self.page.close()
        try:
            self.sio.disconnect()
        except Exception as exc:
            print(f"warning: Socket.IO disconnect: {exc}", file=sys.stderr)

    def measure(self, index: int, prompt: str, max_tokens: int,
                record: list | None = None) -> RequestResult:
        message_id = str(uuid.uuid4())
        if self.page is not None:
            body = self.page.body(prompt, message_id, self.sio.get_sid(), {"max_tokens": max_tokens, **self.params})
        else:
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
            if self.page is not None:
                self.page.on_post_answer()
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
            acc.fail(f"{type(exc).__name__}: {str(exc)[:300]}", classify(exc))
        result = acc.finish(self.clock())
        if self.page is not None:
            self.page.delete_chat()  # after the clock stopped: verification leaves no chats behind
        relative_times(record, t0)
        return result
