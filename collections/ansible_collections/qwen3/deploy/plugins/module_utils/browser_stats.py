"""Turn what the in-page recorder saw (browser_page_js) into per-request numbers and a target summary.

Per request (milliseconds after the Enter keydown):

* ``first_paint_ms`` (reported as the target's ``ttft_ms``): the end of the first rendering update whose frame
  showed non-empty answer text at least half opaque (Open WebUI fades words in; with the fade off, as soon as the
  text is in the frame). ``first_text_ms``: the same, text present at any opacity.
* ``enter_to_post_ms``: the page's own work before it sends ``POST /api/chat/completions``.
* ``post_to_first_delta_ms``: from that POST to the first answer text on the Socket.IO socket (the server: Open
  WebUI before the engine, the engine's first token, Open WebUI after it). ``engine_ttft_ms``, when the engine's
  Prometheus counters could be read around the request, is the engine's own share (vLLM's TTFT histogram).
* ``delta_to_paint_ms``: from that socket frame to the first paint (the page's rendering).
* ``paint_updates``, ``chars_per_update`` and ``itl_ms`` (gaps between updates): how the answer grew on screen.
* ``full_answer_ms``: until the page marked the answer done. ``thinking_block``: a reasoning block was drawn.

``summarize`` gives the same shape as the host tool's per-target summary (qwen3_hosttools.latency.stats), so the
verify report, thresholds and plot treat the browser as one more target, plus ``timeline`` (p50 per phase).
"""

from __future__ import annotations

import statistics
from typing import Any

KIND = "browser"
TITLE = "Real browser (Chromium) on the Open WebUI page: Enter to first painted answer text"
PHASES = (
    ("enter_to_post_ms", "page: Enter -> POST /api/chat/completions sent"),
    ("post_to_first_delta_ms", "server: POST -> first answer text on the socket"),
    ("engine_ttft_ms", "  of which the engine's first token (vLLM TTFT)"),
    ("delta_to_paint_ms", "page: socket frame -> first painted frame"),
    ("first_paint_ms", "total: Enter -> first painted answer text"),
)
METRICS = ("ttft_ms", "first_text_ms", "enter_to_post_ms", "post_to_first_delta_ms", "engine_ttft_ms",
           "delta_to_paint_ms", "itl_ms", "total_ms", "paint_updates", "chars_per_update", "events",
           "tokens_per_event", "chars_per_event", "output_tokens", "decode_tokens_per_s", "ttfc_ms", "ttfb_ms")


def _ms(t: float | None, t0: float) -> float | None:
    return None if t is None else round(t - t0, 3)


def request_result(index: int, watch: dict | None, engine: dict | None, error: str | None = None) -> dict:
    """One request's numbers from the recorder's ``watch`` and the engine counters around it."""
    r: dict[str, Any] = {
        "target": KIND, "index": index, "ok": False, "error": error, "error_kind": None if error is None else "browser",
        "ttft_ms": None, "ttfc_ms": None, "ttfb_ms": None, "total_ms": None, "itl_ms": [], "events": 0,
        "content_events": 0, "content_chars": 0, "output_tokens": None, "tokens_source": "engine counters",
        "decode_tokens_per_s": None, "tokens_per_event": None, "chars_per_event": None, "thinking_leak": False,
        "thinking_chars": 0, "thinking_sources": [], "empty_think_block": False, "done": False,
        "first_text_ms": None, "enter_to_post_ms": None, "post_to_first_delta_ms": None, "engine_ttft_ms": None,
        "delta_to_paint_ms": None, "paint_updates": 0, "chars_per_update": None, "thinking_block": None,
        "engine_requests": None, "engine_prompt_tokens": None, "text_has_lt": None, "requests_before_paint": [],
    }
    if watch is None:
        r["error"] = r["error"] or "the page recorded no Enter in the chat input"
        r["error_kind"] = "browser"
        return r
    t0 = watch["enter"]
    post = watch.get("post") or {}
    paint = (watch.get("first_visible") or [None, None])[1]
    r["first_text_ms"] = _ms((watch.get("first_text") or [None, None])[1], t0)
    r["ttft_ms"] = _ms(paint, t0)
    r["enter_to_post_ms"] = _ms(post.get("start"), t0)
    r["ttfb_ms"] = _ms(post.get("headers_at"), t0)
    r["ttfc_ms"] = _ms(watch.get("first_delta"), t0)
    if post.get("start") is not None and watch.get("first_delta") is not None:
        r["post_to_first_delta_ms"] = round(watch["first_delta"] - post["start"], 3)
    if watch.get("first_delta") is not None and paint is not None:
        r["delta_to_paint_ms"] = round(paint - watch["first_delta"], 3)
    updates = [u for u in watch.get("updates") or [] if u[2] > 0]
    grown = []
    last = 0
    for _, end, length in updates:
        if length > last:
            grown.append((end, length - last))
            last = length
    r["paint_updates"] = len(grown)
    r["content_events"] = r["events"] = int(watch.get("deltas") or 0)
    r["content_chars"] = int(watch.get("final_len") or last)
    if grown:
        r["chars_per_update"] = round(sum(c for _, c in grown) / len(grown), 3)
        r["itl_ms"] = [round(grown[i][0] - grown[i - 1][0], 3) for i in range(1, len(grown))]
    if r["events"]:
        r["chars_per_event"] = round((watch.get("delta_chars") or 0) / r["events"], 3)
    done_at = watch.get("done_at")
    r["done"] = done_at is not None
    r["total_ms"] = _ms(done_at, t0)
    if watch.get("thinking_at") is not None or (watch.get("reasoning_deltas") or 0) > 0:
        r["thinking_leak"] = True
        r["thinking_block"] = watch.get("thinking_label") or "reasoning deltas on the socket"
        r["thinking_sources"] = ["reasoning block on the page" if watch.get("thinking_at") is not None
                                 else "response.reasoning_text.delta"]
    r["text_has_lt"] = watch.get("has_lt")
    if engine:
        r["engine_requests"] = engine.get("requests")
        r["engine_prompt_tokens"] = engine.get("prompt_tokens")
        if engine.get("requests") == 1:  # more (e.g. a title request beside the answer): not this answer's alone
            r["engine_ttft_ms"] = engine.get("ttft_ms")
            r["output_tokens"] = engine.get("output_tokens")
        if r["output_tokens"] and r["events"]:
            r["tokens_per_event"] = round(r["output_tokens"] / r["events"], 3)
    if paint is not None:
        r["requests_before_paint"] = [
            f"{f['method']} {f['url'].split('?')[0]} {_ms(f['start'], t0)}..{_ms(f.get('headers_at'), t0)}"
            for f in watch.get("fetches") or [] if f["start"] <= paint]
    if r["error"] is None:
        if not r["done"]:
            r["error"], r["error_kind"] = "the page did not mark the answer done in time", "read_timeout"
        elif r["ttft_ms"] is None and not r["thinking_leak"]:
            r["error"], r["error_kind"] = "the page painted no answer text", "no_content"
    r["ok"] = r["error"] is None and r["ttft_ms"] is not None
    return r


def percentile(values: list[float], p: int) -> float | None:
    """Linear-interpolated percentile, as the host tool computes it (statistics.quantiles, inclusive)."""
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    if len(vals) == 1:
        return round(vals[0], 3)
    return round(statistics.quantiles(vals, n=100, method="inclusive")[p - 1], 3)


def describe(values: list[float]) -> dict:
    vals = [v for v in values if v is not None]
    return {"n": len(vals), "p50": percentile(vals, 50), "p95": percentile(vals, 95),
            "max": round(max(vals), 3) if vals else None, "min": round(min(vals), 3) if vals else None,
            "mean": round(statistics.fmean(vals), 3) if vals else None}


def summarize(run: dict) -> dict:
    """The browser target in the host tool's summary shape, plus ``timeline`` and page-specific counts."""
    results = run["results"]
    ok = [r for r in results if r["ok"]]
    errors: dict[str, int] = {}
    for r in results:
        if not r["ok"]:
            errors[r["error_kind"] or "error"] = errors.get(r["error_kind"] or "error", 0) + 1
    stats = {name: describe([x for r in ok for x in r["itl_ms"]] if name == "itl_ms" else [r[name] for r in ok])
             for name in METRICS}
    attempted = len(results)
    return {
        "target": run["target"], "kind": KIND, "title": TITLE, "url": run["url"], "model": run["model"],
        "requested": run["requested"], "attempted": attempted, "ok": len(ok), "errors": errors,
        "skipped": run["skipped"],
        "error_rate": (round((attempted - len(ok)) / attempted, 4) if attempted
                       else (1.0 if run["unreachable"] else 0.0)),
        "unreachable": run["unreachable"],
        "thinking_leaks": sum(1 for r in results if r["thinking_leak"]),
        "thinking_sources": sorted({s for r in results for s in r["thinking_sources"]}),
        "empty_think_blocks": 0,
        "tokens_source": ["engine counters"],
        "stats": stats,
        "first_error": next((r["error"] for r in results if r["error"]), None),
        "timeline": {key: stats["ttft_ms" if key == "first_paint_ms" else key]["p50"] for key, _ in PHASES},
        "answers_with_lt": sum(1 for r in results if r.get("text_has_lt")),
    }


def merge(doc: dict, run: dict) -> dict:
    """Add a browser run to the host tool's document: its run, its summary and its overhead over the engine."""
    doc["runs"] = [r for r in doc["runs"] if r.get("kind") != KIND] + [run]
    summary = doc["summary"]
    target = summarize(run)
    summary["targets"][run["target"]] = target
    engine = summary["targets"].get(summary.get("engine_target") or "")
    if engine is not None:
        entry = {}
        for p in ("p50", "p95"):
            a, b = target["stats"]["ttft_ms"][p], engine["stats"]["ttft_ms"][p]
            entry[f"ttft_{p}_ms"] = round(a - b, 3) if a is not None and b is not None else None
        summary.setdefault("webui_overhead", {})[run["target"]] = entry
    return doc
