"""The real-browser path's numbers (module_utils/browser_stats.py), thresholds and report rows, from recorded
page observations (no browser here: tests/unit/test_browser_recorder.py runs the recorder in Chromium)."""

from __future__ import annotations

import copy

from ansible_collections.qwen3.deploy.plugins.module_utils import browser_stats as bs
from ansible_collections.qwen3.deploy.plugins.module_utils import verify_report, verify_thresholds


def watch(**over) -> dict:
    """What the in-page recorder returns for one answer (performance.now() ms)."""
    w = {
        "enter": 1000.0, "message_id": "m1",
        "post": {"url": "/api/chat/completions", "method": "POST", "start": 1040.0, "headers_at": 1090.0},
        "fetches": [{"url": "/api/chat/completions", "method": "POST", "start": 1040.0, "headers_at": 1090.0},
                    {"url": "/api/v1/chats/?page=1", "method": "GET", "start": 1100.0, "headers_at": 1180.0},
                    {"url": "/api/v1/chats/abc", "method": "GET", "start": 1300.0, "headers_at": 1350.0}],
        "ws_in": [], "ws_out": [], "first_delta": 1120.0, "deltas": 100, "delta_chars": 450,
        "reasoning_deltas": 0, "done_event": 1900.0, "frames": 60,
        "updates": [[1130.0, 1140.0, 5], [1146.0, 1150.0, 5], [1163.0, 1170.0, 25], [1180.0, 1190.0, 450]],
        "first_text": [1130.0, 1140.0], "first_visible": [1146.0, 1150.0], "thinking_at": None,
        "thinking_label": None, "done_at": 1950.0, "final_len": 450, "has_lt": False, "stopped": True,
    }
    w.update(over)
    return w


ENGINE = {"requests": 1, "ttft_ms": 15.0, "output_tokens": 100, "prompt_tokens": 30}


def test_phases_add_up_from_enter_to_the_first_painted_frame():
    r = bs.request_result(0, watch(), ENGINE)
    assert r["ok"] and r["error"] is None
    assert r["ttft_ms"] == 150.0  # first frame with the text at least half opaque
    assert r["first_text_ms"] == 140.0  # text present, fade not done
    assert (r["enter_to_post_ms"], r["post_to_first_delta_ms"], r["delta_to_paint_ms"]) == (40.0, 80.0, 30.0)
    assert r["enter_to_post_ms"] + r["post_to_first_delta_ms"] + r["delta_to_paint_ms"] == r["ttft_ms"]
    assert r["engine_ttft_ms"] == 15.0 and r["output_tokens"] == 100 and r["tokens_per_event"] == 1.0
    assert r["total_ms"] == 950.0
    assert r["paint_updates"] == 3 and r["chars_per_update"] == 150.0 and r["itl_ms"] == [30.0, 20.0]
    assert r["requests_before_paint"] == ["POST /api/chat/completions 40.0..90.0", "GET /api/v1/chats/ 100.0..180.0"]
    assert not r["thinking_leak"]


def test_a_thinking_block_is_a_thinking_leak():
    r = bs.request_result(0, watch(thinking_at=1200.0, thinking_label="Thought for 9 seconds"), ENGINE)
    assert r["thinking_leak"] and r["thinking_block"] == "Thought for 9 seconds"
    r = bs.request_result(0, watch(reasoning_deltas=4, first_visible=None, first_text=None, updates=[]), ENGINE)
    assert r["thinking_leak"] and r["thinking_sources"] == ["response.reasoning_text.delta"]


def test_failures_are_named():
    assert bs.request_result(0, watch(done_at=None), ENGINE)["error_kind"] == "read_timeout"
    nothing = bs.request_result(0, watch(first_visible=None, first_text=None, updates=[]), ENGINE)
    assert nothing["error_kind"] == "no_content" and not nothing["ok"]
    assert "no Enter" in bs.request_result(0, None, None)["error"]
    mixed = bs.request_result(0, watch(), {**ENGINE, "requests": 2})  # a title request beside the answer
    assert mixed["engine_ttft_ms"] is None and mixed["output_tokens"] is None


def run(paints=(150.0, 160.0, 170.0), **over) -> dict:
    results = []
    for i, p in enumerate(paints):
        results.append(bs.request_result(i, watch(first_visible=[0, 1000.0 + p], **over), ENGINE))
    return {"target": "browser", "kind": "browser", "url": "https://127.0.0.1:443", "model": "qwen3-demo",
            "requested": len(paints), "warmup": 1, "results": results, "warmup_results": [], "skipped": 0,
            "unreachable": None}


def host_doc(engine_p50=20.0, socket_p50=140.0) -> dict:
    def target(name, kind, p50):
        stats = {k: {"n": 3, "p50": None, "p95": None, "max": None, "min": None, "mean": None}
                 for k, _ in verify_report.SUMMARY_ROWS}
        stats["ttft_ms"] = {"n": 3, "p50": p50, "p95": p50 + 5, "max": p50 + 6, "min": p50 - 1, "mean": p50}
        stats["tokens_per_event"] = {"n": 3, "p50": 1.0, "p95": 1.0, "max": 1.0, "min": 1.0, "mean": 1.0}
        return {"target": name, "kind": kind, "title": name, "url": "http://127.0.0.1", "model": "m",
                "requested": 3, "attempted": 3, "ok": 3, "errors": {}, "skipped": 0, "error_rate": 0.0,
                "unreachable": None, "thinking_leaks": 0, "thinking_sources": [], "empty_think_blocks": 0,
                "tokens_source": ["usage"], "stats": stats, "first_error": None}
    return {"started_at": "2026-12-01T00:00:00Z", "host": "h", "duration_s": 1,
            "settings": {"n": 3, "warmup": 1, "max_tokens": 64, "timeout_s": 60, "time_limit_s": 600},
            "runs": [{"target": "vllm", "kind": "vllm", "results": []}],
            "summary": {"targets": {"vllm": target("vllm", "vllm", engine_p50),
                                    "webui-socket": target("webui-socket", "webui-socket", socket_p50)},
                        "engine_target": "vllm", "webui_overhead": {}}}


def test_merge_adds_the_browser_as_a_target_with_its_overhead_and_timeline():
    doc = bs.merge(host_doc(), run())
    t = doc["summary"]["targets"]["browser"]
    assert t["kind"] == "browser" and t["ok"] == 3 and t["stats"]["ttft_ms"]["p50"] == 160.0
    assert doc["summary"]["webui_overhead"]["browser"]["ttft_p50_ms"] == 140.0
    assert t["timeline"]["enter_to_post_ms"] == 40.0 and t["timeline"]["engine_ttft_ms"] == 15.0
    assert [r["kind"] for r in doc["runs"]] == ["vllm", "browser"]
    assert bs.merge(doc, run())["runs"][-1]["kind"] == "browser" and len(doc["runs"]) == 2  # replaced, not added


def test_browser_thresholds_pass_and_fail():
    doc = bs.merge(host_doc(socket_p50=140.0), run())
    ok = {"browser_overhead_p50_ms": 150, "browser_first_paint_p95_ms": 200, "socket_probe_gap_pct": 20,
          "browser_tokens_per_event": 1, "max_tokens_per_event": 1, "thinking_allowed": False}
    assert verify_thresholds.check_thresholds(doc["summary"], ok) == []
    tight = {"browser_overhead_p50_ms": 100, "browser_first_paint_p95_ms": 150, "socket_probe_gap_pct": 10}
    fails = {f.metric: f for f in verify_thresholds.check_thresholds(doc["summary"], tight)}
    assert set(fails) == set(tight)
    assert fails["browser_overhead_p50_ms"].value == 140.0
    assert fails["socket_probe_gap_pct"].value == 12.5  # |140 - 160| / 160


def test_the_browser_is_judged_by_its_own_overhead_limit_not_the_api_paths_one():
    doc = bs.merge(host_doc(), run())  # browser overhead 140 ms
    limits = {"webui_overhead_p50_ms": 50, "browser_overhead_p50_ms": 150}
    assert verify_thresholds.check_thresholds(doc["summary"], limits) == []


def test_a_thinking_block_fails_thinking_allowed_false():
    doc = bs.merge(host_doc(), run(thinking_at=1200.0, thinking_label="Thinking..."))
    fails = verify_thresholds.check_thresholds(doc["summary"], {"thinking_allowed": False})
    assert [(f.metric, f.target, f.value) for f in fails] == [("thinking_leaks", "browser", 3)]


def test_browser_thresholds_are_not_judged_without_a_browser_run():
    doc = host_doc()
    limits = {"browser_overhead_p50_ms": 1, "browser_first_paint_p95_ms": 1, "socket_probe_gap_pct": 1}
    assert verify_thresholds.check_thresholds(doc["summary"], limits) == []
    failed = copy.deepcopy(run())
    failed.update(results=[], unreachable="cannot start Chromium (/usr/bin/chromium): not found", skipped=3)
    doc = bs.merge(host_doc(), failed)
    assert verify_thresholds.unreachable(doc["summary"]) == ["cannot start Chromium (/usr/bin/chromium): not found"]
    assert {f.metric for f in verify_thresholds.check_thresholds(doc["summary"], limits)} == {
        "browser_overhead_p50_ms", "browser_first_paint_p95_ms", "socket_probe_gap_pct"}


def test_the_report_has_browser_rows_and_the_timeline(tmp_path):
    doc = bs.merge(host_doc(), run())
    fails = verify_report.write_reports(doc, str(tmp_path), "h", {"browser_overhead_p50_ms": 100}, with_plot=True)
    text = (tmp_path / "summary.md").read_text()
    assert "| browser: Enter -> POST sent (ms) p50 / p95 / max | - | - | 40.0 / 40.0 / 40.0 |" in text
    assert "- page: Enter -> POST /api/chat/completions sent: 40.0" in text
    assert "- page: socket frame -> first painted frame: 40.0" in text
    assert [f.metric for f in fails] == ["browser_overhead_p50_ms"]
    assert (tmp_path / "latency.png").stat().st_size > 1000
