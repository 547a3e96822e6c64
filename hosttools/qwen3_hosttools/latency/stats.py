"""Summaries of measured runs: percentiles (statistics.quantiles), per-target stats, WebUI overhead."""

from __future__ import annotations

import math
import statistics
from typing import Any

from qwen3_hosttools.latency.kinds import ENGINE_KINDS, METRICS, PERCENTILES, WEBUI_KINDS


def percentile(values: list[float], p: float) -> float | None:
    """Linear-interpolated percentile (numpy's default; ``statistics.quantiles`` method inclusive)."""
    vals = [v for v in values if v is not None and not math.isnan(v)]
    if not vals:
        return None
    if len(vals) == 1:
        return round(vals[0], 3)
    if p <= 0 or p >= 100:
        return round(min(vals) if p <= 0 else max(vals), 3)
    cuts = statistics.quantiles(vals, n=100, method="inclusive")
    return round(cuts[int(p) - 1], 3) if float(p).is_integer() else None


def describe(values: list[float]) -> dict:
    vals = [v for v in values if v is not None]
    out = {"n": len(vals)}
    for p in PERCENTILES:
        out[f"p{p}"] = percentile(vals, p)
    out["max"] = round(max(vals), 3) if vals else None
    out["min"] = round(min(vals), 3) if vals else None
    out["mean"] = round(statistics.fmean(vals), 3) if vals else None
    return out


def chars_per_token(run: dict) -> float | None:
    """Characters per token from a run whose server reported token counts (usage / eval_count)."""
    ok = [r for r in run["results"] if r["ok"] and r["tokens_source"] != "events" and r["output_tokens"]]
    tokens = sum(r["output_tokens"] for r in ok)
    return round(sum(r["content_chars"] for r in ok) / tokens, 4) if tokens else None


def summarize_target(run: dict, engine_chars_per_token: float | None = None) -> dict:
    """Stats of one target. Where the path reports no token counts (Open WebUI's browser path may
    not), tokens per event are estimated from characters with the engine's chars/token."""
    results = run["results"]
    ok = [r for r in results if r["ok"]]
    errors: dict[str, int] = {}
    for r in results:
        if not r["ok"]:
            errors[r["error_kind"] or "error"] = errors.get(r["error_kind"] or "error", 0) + 1
    attempted = len(results)
    sources = sorted({r["tokens_source"] for r in ok})
    estimate = bool(ok) and sources == ["events"] and run["kind"] in WEBUI_KINDS and bool(engine_chars_per_token)
    if estimate:
        sources = [f"chars / {engine_chars_per_token} chars per engine token"]
    stats: dict[str, Any] = {}
    for name in METRICS:
        if name == "itl_ms":
            stats[name] = describe([x for r in ok for x in r["itl_ms"]])
        elif name == "tokens_per_event" and estimate:
            stats[name] = describe([r["chars_per_event"] / engine_chars_per_token for r in ok
                                    if r["chars_per_event"] is not None])
        else:
            stats[name] = describe([r[name] for r in ok])
    return {
        "target": run["target"], "kind": run["kind"], "title": run["title"], "url": run["url"],
        "model": run["model"], "requested": run["requested"], "attempted": attempted,
        "ok": len(ok), "errors": errors, "skipped": run["skipped"],
        "error_rate": (round((attempted - len(ok)) / attempted, 4) if attempted
                       else (1.0 if run["unreachable"] else 0.0)),
        "unreachable": run["unreachable"],
        "thinking_leaks": sum(1 for r in results if r["thinking_leak"]),
        "thinking_sources": sorted({s for r in results for s in r["thinking_sources"]}),
        "empty_think_blocks": sum(1 for r in results if r["empty_think_block"]),
        "tokens_source": sources,
        "stats": stats,
        "first_error": next((r["error"] for r in results if r["error"]), None),
    }


def summarize(runs: list[dict]) -> dict:
    engine_run = next((run for run in runs if run["kind"] in ENGINE_KINDS), None)
    cpt = chars_per_token(engine_run) if engine_run else None
    targets = {run["target"]: summarize_target(run, cpt) for run in runs}
    engine = targets[engine_run["target"]] if engine_run else None
    overhead = {}
    for t in targets.values():
        if t["kind"] in WEBUI_KINDS and engine is not None:
            entry = {}
            for p in ("p50", "p95"):
                a, b = t["stats"]["ttft_ms"][p], engine["stats"]["ttft_ms"][p]
                entry[f"ttft_{p}_ms"] = round(a - b, 3) if a is not None and b is not None else None
            overhead[t["target"]] = entry
    return {"targets": targets, "engine_target": engine["target"] if engine else None,
            "webui_overhead": overhead}
