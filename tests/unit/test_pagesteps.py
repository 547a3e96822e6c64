"""The Socket.IO probe takes the page's steps (hosttools latency/pagesteps.py): the same request body as the real
Open WebUI 0.12.4 page and the same requests, triggered by the same server events, before the first answer text.
Compared with a trace recorded from the real page in Chromium (tests/fixtures/browser/page-trace.json)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from qwen3_hosttools.latency.pagesteps import PageSteps

TRACE = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "browser" / "page-trace.json").read_text())


class FakeResponse:
    def __init__(self, data):
        self.status_code = 200
        self._data = data

    def json(self):
        return self._data


class FakeHttp:
    """Answers the page-load GETs like Open WebUI does for the demo admin."""

    def __init__(self):
        self.deleted = []

    def get(self, url, headers, timeout):
        path = url.split("127.0.0.1:8080", 1)[1]
        data = {"/api/config": {"features": {}},
                "/api/v1/users/user/settings": {"ui": {"memory": True}},
                "/api/models": {"data": [{"id": "qwen3-demo", "name": "qwen3-demo", "object": "model"}]},
                "/api/v1/auths/": {"id": "u1", "name": "Demo Admin", "email": "admin@example.com"}}.get(path, {})
        return FakeResponse(data)

    def delete(self, url, headers, timeout):
        self.deleted.append(url)


class FakeEmit:
    def __init__(self):
        self.sent = []

    def __call__(self, event, data, callback=None):
        self.sent.append((event, data))
        if callback:
            callback(True)


@pytest.fixture()
def steps():
    s = PageSteps("http://127.0.0.1:8080", "jwt", "qwen3-demo", FakeHttp(), FakeEmit())
    yield s
    s.close()


def test_the_body_is_the_pages_body(steps):
    page = TRACE["requests"][0]["post_body"]
    body = steps.body("Count to forty.", "mid", "sid", {"max_tokens": 64})
    assert sorted(body) == sorted(page)
    assert body["parent_id"] is None and "chat_id" not in body  # a new chat, created by the server
    assert body["features"] == page["features"]
    assert sorted(body["variables"]) == page["variables"]
    assert sorted(body["user_message"]) == sorted(page["user_message"])
    assert body["user_message"]["childrenIds"] == ["mid"] and body["user_message"]["content"] == "Count to forty."
    assert sorted(body["background_tasks"]) == sorted(page["background_tasks"])
    assert body["message_ids"] == [{**page["message_ids"][0], "message_id": "mid"}]
    assert {k: v for k, v in body["params"].items() if k != "max_tokens"} == page["params"]


def _replay(steps, recorded) -> Counter:
    """Feed the server events the page received before its first paint, then the POST's answer, in order."""
    steps.body("hi", "mid", "sid", {})
    user_id = next(i for i in steps._ids if i != "mid")
    steps.log.clear()
    for e in recorded["received_before_first_paint"]:
        if e["event"] in (None, "chat:presence", "response:completion"):
            continue
        message_id = user_id if e["event"] == "chat:list" else "mid"
        data = {"type": e["event"], "data": {"active": True} if e["event"] == "chat:active" else {}}
        steps.on_event({"chat_id": "c1", "message_id": message_id, "data": data})
    steps.on_post_answer()
    steps.close()
    return Counter(what.replace("c1", "{chat_id}") for _, what in steps.log)


def test_the_requests_before_the_first_token_are_the_pages():
    """Everything the page sent before its first paint, the probe sends too, and nothing else (the page's GET of the
    chat answers its room join's ack, which on a slow host may come after the first paint)."""
    for recorded in TRACE["requests"]:
        steps = PageSteps("http://127.0.0.1:8080", "jwt", "qwen3-demo", FakeHttp(), FakeEmit())
        sent = _replay(steps, recorded)
        page = Counter("emit events:chat join" if x["send"].startswith("emit 42") and '"join"' in x["send"]
                       else x["send"] for x in recorded["sent"]
                       if x["before_first_paint"] and not x["send"].startswith("POST"))
        assert page - sent == Counter(), f"the page sent, the probe did not: {page - sent}"
        assert set(sent) <= set(page) | {"GET /api/v1/chats/{chat_id}"}, f"the probe only: {set(sent) - set(page)}"


def test_the_chat_is_deleted_after_measuring(steps):
    steps.body("hi", "mid", "sid", {})
    steps.on_event({"chat_id": "c9", "message_id": "mid", "data": {"type": "chat:list"}})
    steps.delete_chat()
    assert steps.http.deleted == ["http://127.0.0.1:8080/api/v1/chats/c9"]
