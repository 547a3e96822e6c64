"""What Open WebUI 0.12.4's web page does for a new chat, so the Socket.IO probe (socketpath) does the same.

Recorded from the real page in Chromium (tests/fixtures/browser/page-trace.json; tests/unit/test_pagesteps.py
checks this module against it). Once per page load, before any chat: ``GET /api/config``, the user's settings and
``GET /api/models`` (the page's stores). Then per message, from Enter:

1. ``POST /api/chat/completions`` for a NEW chat: no ``chat_id``, ``parent_id: null``, the user message, the
   client's message ids, ``features`` (``memory`` when memories are on), prompt ``variables``, the model item,
   ``background_tasks`` from the user's settings (title and tags for a first message, follow-ups). The server
   creates the chat, then emits ``events`` ``chat:list`` and ``chat:active`` and starts the answer (and the title
   request beside it when title generation is on).
2. On the first ``events`` frame naming the new chat: emit ``events:chat`` ``{type: join}`` with an ack; on the ack,
   ``GET /api/v1/chats/{id}``.
3. The sidebar: on ``chat:list`` and on ``chat:active`` (the new chat is not listed yet)
   ``GET /api/v1/chats/?page=1`` with ``GET /api/v1/chats/pinned``; on ``chat:title`` ``GET /api/v1/chats/?page=1``.
4. When the POST answers: ``GET /api/v1/chats/?page=1``.

They run concurrently with the answer, as the page's fetches do (a small thread pool), and compete with it for the
server's CPU, which is the point: the probe's first token then waits for what the page's waits for. ``log`` keeps
what was sent, in order, for the comparison with the recorded trace. No sleeps.
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any


class PageSteps:
    """One page's worth of state (config, settings, model, user) and its reactions to one new chat's events."""

    def __init__(self, base_url: str, token: str, model: str, http: Any, emit: Any, *, timeout_s: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"}
        self.model = model
        self.http = http  # requests.Session-like (get/post)
        self.emit = emit  # socketio.Client.emit-like: emit(event, data, callback=...)
        self.timeout_s = timeout_s
        self.log: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="page")
        self.config = self._get("/api/config")
        self.settings = (self._get("/api/v1/users/user/settings") or {}).get("ui") or {}
        models = (self._get("/api/models") or {}).get("data") or []
        self.model_item = next((m for m in models if m.get("id") == model), {"id": model})
        self.user = self._get("/api/v1/auths/") or {}
        self.log.clear()  # the page load is not part of a message
        self.chat_id: str | None = None
        self._ids: set[str] = set()
        self.joined = False

    # -- HTTP, recorded --------------------------------------------------------------------------------------
    def _note(self, what: str) -> None:
        with self._lock:
            self.log.append((time.perf_counter(), what))

    def _get(self, path: str) -> Any:
        self._note(f"GET {path}")
        try:
            resp = self.http.get(self.base_url + path, headers=self.headers, timeout=self.timeout_s)
            return resp.json() if resp.status_code == 200 else None
        except Exception:  # a failed side request must not end the measurement (the page ignores them too)
            return None

    def _later(self, *paths: str) -> None:
        for path in paths:
            self._pool.submit(self._get, path)

    # -- the request ------------------------------------------------------------------------------------------
    def features(self) -> dict:
        feats = (self.config or {}).get("features") or {}
        out: dict[str, Any] = {"voice": False, "image_generation": False, "code_interpreter": False,
                               "web_search": False}
        if self.settings.get("memory", feats.get("enable_memories", False)):
            out["memory"] = True
        return out

    def background_tasks(self) -> dict:
        return {"title_generation": (self.settings.get("title") or {}).get("auto", True),
                "tags_generation": self.settings.get("autoTags", True),
                "follow_up_generation": self.settings.get("autoFollowUps", True)}

    def variables(self) -> dict:
        now = time.localtime()
        return {"{{USER_NAME}}": self.user.get("name", ""), "{{USER_EMAIL}}": self.user.get("email") or "Unknown",
                "{{USER_LOCATION}}": "Unknown", "{{CURRENT_DATETIME}}": time.strftime("%Y-%m-%d %H:%M:%S", now),
                "{{CURRENT_DATE}}": time.strftime("%Y-%m-%d", now), "{{CURRENT_TIME}}": time.strftime("%H:%M:%S", now),
                "{{CURRENT_WEEKDAY}}": time.strftime("%A", now), "{{CURRENT_TIMEZONE}}": time.strftime("%Z", now),
                "{{USER_LANGUAGE}}": "en-US"}

    def body(self, prompt: str, message_id: str, session_id: str, params: dict) -> dict:
        """The page's POST body for the first message of a new chat (Chat.svelte sendMessageSocket)."""
        self.chat_id, self.joined = None, False
        user_id = str(uuid.uuid4())
        self._ids = {user_id, message_id}
        return {
            "stream": True, "model": self.model,
            "params": {**(self.settings.get("params") or {}), **params,
                       "model_controls": (self.settings.get("params") or {}).get("model_controls") or {}},
            "tool_ids": [], "tool_servers": [], "features": self.features(), "variables": self.variables(),
            "chat_variables": {}, "model_item": self.model_item, "session_id": session_id, "id": message_id,
            "message_ids": [{"model_id": self.model, "message_id": message_id, "modelIdx": 0}],
            "parent_id": None,
            "user_message": {"id": user_id, "parentId": None, "childrenIds": [message_id], "role": "user",
                             "user": {"id": self.user.get("id"), "name": self.user.get("name")},
                             "user_id": self.user.get("id"), "content": prompt, "timestamp": int(time.time()),
                             "models": [self.model]},
            "background_tasks": self.background_tasks(),
        }

    # -- reactions ---------------------------------------------------------------------------------------------
    def on_event(self, payload: Any) -> None:
        """An ``events`` frame: join the new chat's room on the first one, refresh the sidebar as the page does."""
        if not isinstance(payload, dict):
            return
        data = payload.get("data") or {}
        chat_id = payload.get("chat_id")
        if self.chat_id is None and chat_id and payload.get("message_id") in self._ids:
            self.chat_id = chat_id  # the page's rule: the first event about its messages names the new chat
        if chat_id and chat_id == self.chat_id and not self.joined:
            self.joined = True
            self._note("emit events:chat join")
            self.emit("events:chat", {"chat_id": chat_id, "data": {"type": "join"}},
                      callback=lambda *_a: self._later(f"/api/v1/chats/{chat_id}"))
        kind = data.get("type")
        if kind == "chat:list" or (kind == "chat:active" and (data.get("data") or {}).get("active")):
            self._later("/api/v1/chats/?page=1", "/api/v1/chats/pinned")
        elif kind == "chat:title":
            self._later("/api/v1/chats/?page=1")

    def on_post_answer(self) -> None:
        self._later("/api/v1/chats/?page=1")

    def delete_chat(self) -> None:
        """Remove the chat this message made (after measuring; verification leaves no chats behind)."""
        if self.chat_id:
            try:
                self.http.delete(f"{self.base_url}/api/v1/chats/{self.chat_id}", headers=self.headers,
                                 timeout=self.timeout_s)
            except Exception as exc:
                print(f"warning: could not delete the probe's chat {self.chat_id}: {exc}", file=sys.stderr)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
