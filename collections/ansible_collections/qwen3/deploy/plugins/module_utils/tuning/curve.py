"""The verdict on a measured curve: which points pass the SLO, where preemption starts, and the recommendation.

A point is one max_num_seqs of the grid, loaded at that client concurrency by the ``capacity`` host tool. Its
record on the controller: ``{"concurrency": N, "status": "measured" | "start_failed" | "tool_failed",
"result": <the tool's JSON> | None, "message": text}``.
"""

from __future__ import annotations

import math
from typing import Any

from ansible_collections.qwen3.deploy.plugins.module_utils.tuning.sweep import GOOD_FRACTION


def point_passes(point: dict[str, Any], good_fraction: float = GOOD_FRACTION) -> bool:
    """>= ``good_fraction`` of the requests met the SLO and none failed (an engine that did not start, or a tool
    that gave no result, fails the point)."""
    result = point.get("result") or {}
    if point.get("status") != "measured" or not result.get("completed"):
        return False
    if result.get("passed") is False and int(result.get("prompts") or 0) != int(result.get("completed") or 0):
        return False  # the tool's own verdict also counts prompts it could not send
    return int(result.get("failed") or 0) == 0 and float(result.get("good_fraction") or 0.0) >= good_fraction


def why_missed(point: dict[str, Any], slo: dict[str, Any]) -> str:
    """One line saying why a point misses the SLO ('' when it passes)."""
    if point_passes(point, slo.get("good_fraction", GOOD_FRACTION)):
        return ""
    if point.get("status") != "measured":
        return f"{point.get('status')}: {point.get('message') or 'no result'}"
    r = point.get("result") or {}
    parts = []
    if not r.get("completed"):
        parts.append("no request completed")
    if int(r.get("failed") or 0):
        parts.append(f"{r['failed']} of {r.get('prompts')} requests failed")
    fraction = float(r.get("good_fraction") or 0.0)
    if fraction < slo.get("good_fraction", GOOD_FRACTION):
        parts.append(f"{fraction:.0%} of requests good (needs {slo.get('good_fraction', GOOD_FRACTION):.0%}; "
                     f"TTFT p95 {_pct(r, 'ttft_ms', 'p95')} ms vs {slo['ttft_ms']:g} ms"
                     + (f", TPOT p95 {_pct(r, 'tpot_ms', 'p95')} ms vs {slo['tpot_ms']:g} ms" if slo.get("tpot_ms")
                        else "") + ")")
    return "; ".join(parts)


def _pct(result: dict[str, Any], metric: str, p: str) -> Any:
    value = (result.get(metric) or {}).get(p)
    return round(value, 1) if isinstance(value, (int, float)) else value


def judge(points: list[dict[str, Any]], slo: dict[str, Any]) -> dict[str, Any]:
    """The curve with each point's verdict, where preemption starts and the recommendation.

    The recommendation is the highest concurrency below the first point that misses: a pass above a miss is
    noise (or a warm cache) and is reported, not recommended. ``verdict``: ``binding`` (a point missed, the one
    below it is recommended), ``not_binding`` (every point passed: the SLO does not bind up to the grid's top,
    which is recommended), ``none`` (not even the smallest point met the SLO; nothing to recommend)."""
    good_fraction = slo.get("good_fraction", GOOD_FRACTION)
    ordered = sorted(points, key=lambda p: int(p["concurrency"]))
    rows, first_miss, recommended, ignored = [], None, None, []
    preemption_from = None
    for point in ordered:
        r = point.get("result") or {}
        passed = point_passes(point, good_fraction)
        if preemption_from is None and int(r.get("preemptions") or 0) > 0:
            preemption_from = int(point["concurrency"])
        if first_miss is None:
            if passed:
                recommended = int(point["concurrency"])
            else:
                first_miss = int(point["concurrency"])
        elif passed:
            ignored.append(int(point["concurrency"]))
        rows.append({
            "concurrency": int(point["concurrency"]),
            "status": point.get("status"),
            "passed": passed,
            "why": why_missed(point, slo),
            "ttft_p95_ms": (r.get("ttft_ms") or {}).get("p95"),
            "tpot_p95_ms": (r.get("tpot_ms") or {}).get("p95"),
            "output_tokens_per_s": r.get("output_tokens_per_s"),
            "requests_per_s": r.get("requests_per_s"),
            "good_requests_per_s": r.get("good_requests_per_s"),
            "good_fraction": r.get("good_fraction"),
            "failed": r.get("failed"),
            "preemptions": r.get("preemptions"),
            "seed": r.get("seed"),
        })
    top = rows[-1]["concurrency"] if rows else 0
    if not rows or recommended is None:
        verdict = "none"
    elif first_miss is None:
        verdict = "not_binding"
    else:
        verdict = "binding"
    rec_row = next((row for row in rows if row["concurrency"] == recommended), None)
    return {
        "verdict": verdict,
        "recommended": recommended,
        "first_miss": first_miss,
        "top": top,
        "preemption_from": preemption_from,
        "passes_above_a_miss": ignored,
        "good_requests_per_s": rec_row["good_requests_per_s"] if rec_row else None,
        "rows": rows,
        "headline": headline(verdict, recommended, first_miss, top, slo=slo, rows=rows),
    }


def headline(verdict: str, recommended: int | None, first_miss: int | None, top: int, *, slo: dict[str, Any],
             rows: list[dict[str, Any]]) -> str:
    """The one line the run prints."""
    rule = f"TTFT p95 <= {slo['ttft_ms']:g} ms" + (f", TPOT <= {slo['tpot_ms']:g} ms" if slo.get("tpot_ms") else "")
    if verdict == "not_binding":
        return (f"SLO not binding up to {top}: every point to max_num_seqs {top} met {rule}; recommended "
                f"max_num_seqs {recommended} (raise engine_tuner_max_seqs to look further)")
    if verdict == "binding":
        return f"recommended max_num_seqs {recommended}: the highest point that met {rule}; {first_miss} missed it"
    smallest = rows[0] if rows else None
    why = f" ({smallest['concurrency']}: {smallest['why']})" if smallest else ""
    return (f"NO POINT MET THE SLO ({rule}), not even max_num_seqs {smallest['concurrency'] if smallest else '?'}"
            f"{why}: nothing to recommend. Lower the prompt shape, raise the threshold, or fix the engine")


def hosts_for_rate(peak_requests_per_s: float, good_requests_per_s: float | None) -> int | None:
    """Fleet sizing: ceil(peak / good requests per second per host) + 1 (one host of headroom for a rollout or a
    failure). None when the per-host rate is unknown or zero."""
    if not good_requests_per_s or good_requests_per_s <= 0 or peak_requests_per_s is None:
        return None
    return math.ceil(float(peak_requests_per_s) / float(good_requests_per_s)) + 1
