"""The browser benchmark's network clock: which frame is the first answer text, and the split it reports."""

import json

from support.bench.netclock import NetClock, first_text_delta


def frame(kind: str, inner: str, delta: str = "") -> str:
    return "42" + json.dumps(["events", {"chat_id": "c", "message_id": "m",
                                         "data": {"type": kind, "data": {"type": inner, "delta": delta}}}])


def test_only_a_non_empty_text_delta_counts():
    assert first_text_delta(frame("response:completion", "response.output_text.delta", "Hi"))
    assert not first_text_delta(frame("response:completion", "response.output_text.delta", ""))
    assert not first_text_delta(frame("response:completion", "response.reasoning_text.delta", "Hm"))
    assert not first_text_delta(frame("chat:completion", "response.output_text.delta", "Hi"))
    assert not first_text_delta("2")  # an engine.io ping
    assert not first_text_delta("42not json")


def test_the_split_uses_the_first_post_and_the_first_text_after_it():
    clock = NetClock()
    clock.on_frame({"timestamp": 9.0, "response": {"payloadData": frame("response:completion",
                                                                        "response.output_text.delta", "old")}})
    clock.on_request({"timestamp": 10.0, "request": {"method": "GET", "url": "https://h/api/v1/chats/?page=1"}})
    clock.on_request({"timestamp": 10.010, "request": {"method": "POST", "url": "https://h/api/chat/completions"}})
    clock.on_request({"timestamp": 10.500, "request": {"method": "POST", "url": "https://h/api/chat/completions"}})
    clock.on_frame({"timestamp": 10.100, "response": {"payloadData": frame("chat:active", "")}})
    clock.on_frame({"timestamp": 10.130, "response": {"payloadData": frame("response:completion",
                                                                           "response.output_text.delta", "A")}})
    clock.on_frame({"timestamp": 10.140, "response": {"payloadData": frame("response:completion",
                                                                           "response.output_text.delta", "B")}})
    assert clock.split(150.0) == {"net_post_to_first_delta_ms": 120.0, "frame_wait_for_page_ms": 30.0}
    clock.reset()
    assert clock.split(150.0) == {"net_post_to_first_delta_ms": None, "frame_wait_for_page_ms": None}
