"""The fleet summary of a verification run: each engine measured directly, the fleet through the router, and the
concurrency steps of ``vllm bench serve`` through the router (roles/verify/tasks/fleet.yml).

Inputs are the files the run already wrote: ``<run>/<host>/results.json`` (qwen3-hosttools latency measure, judged
by verify_report) and the bench JSON of each step (keys of ``vllm/benchmarks/serve.py``: completed, failed,
max_concurrency, p50_ttft_ms, p95_ttft_ms, p50_itl_ms, p95_itl_ms, request_throughput, output_throughput).
"""

from __future__ import annotations

import json
import os


def _target_row(name: str, doc: dict | None) -> dict:
    if not doc:
        return {"name": name, "missing": True}
    targets = doc.get("summary", {}).get("targets", {})
    # The engine's own target (vllm/ollama) or the router's (openai): the first one measured.
    key = next(iter(targets), None)
    if key is None:
        return {"name": name, "missing": True}
    t = targets[key]
    stats = t.get("stats", {})
    return {"name": name, "target": key, "ok": t.get("ok"), "attempted": t.get("attempted"),
            "ttft_p50_ms": stats.get("ttft_ms", {}).get("p50"), "ttft_p95_ms": stats.get("ttft_ms", {}).get("p95"),
            "itl_p50_ms": stats.get("itl_ms", {}).get("p50"), "itl_p95_ms": stats.get("itl_ms", {}).get("p95")}


def _step_row(doc: dict) -> dict:
    return {"concurrency": doc.get("max_concurrency"), "requests": doc.get("num_prompts"),
            "completed": doc.get("completed"), "failed": doc.get("failed"),
            "ttft_p50_ms": doc.get("p50_ttft_ms"), "ttft_p95_ms": doc.get("p95_ttft_ms"),
            "itl_p50_ms": doc.get("p50_itl_ms"), "itl_p95_ms": doc.get("p95_itl_ms"),
            "request_throughput": doc.get("request_throughput"), "output_throughput": doc.get("output_throughput")}


def build(hosts: dict[str, dict | None], router_name: str, router: dict | None, steps: list[dict]) -> dict:
    rows = [_step_row(s) for s in sorted(steps, key=lambda s: s.get("max_concurrency") or 0)]
    return {
        "engines": [_target_row(h, d) for h, d in sorted(hosts.items())],
        "router": _target_row(router_name, router),
        "steps": rows,
        "failed_steps": [r for r in rows if (r["failed"] or 0) > 0 or not r["completed"]],
    }


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def markdown(summary: dict) -> str:
    out = ["# Fleet summary", "",
           "TTFT = first content token (qwen3-hosttools latency) for the engines and the router; the concurrency "
           "steps are `vllm bench serve` through the router (its TTFT: first chunk with choices).", "",
           "| path | ok / sent | TTFT p50 ms | TTFT p95 ms | ITL p50 ms | ITL p95 ms |",
           "| --- | --- | --- | --- | --- | --- |"]
    for row in [*summary["engines"], summary["router"]]:
        kind = "through the router" if row is summary["router"] else "direct"
        label = f"{row['name']} ({kind if not row.get('missing') else 'no results in this run'})"
        if row.get("missing"):
            out.append(f"| {label} | - | - | - | - | - |")
            continue
        out.append(f"| {label} | {row['ok']} / {row['attempted']} | {_fmt(row['ttft_p50_ms'])} | "
                   f"{_fmt(row['ttft_p95_ms'])} | {_fmt(row['itl_p50_ms'])} | {_fmt(row['itl_p95_ms'])} |")
    out += ["", "| concurrency through the router | completed / failed | TTFT p50 ms | TTFT p95 ms | ITL p50 ms | "
            "ITL p95 ms | req/s | output tok/s |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for row in summary["steps"]:
        out.append(f"| {row['concurrency']} | {row['completed']} / {row['failed']} | {_fmt(row['ttft_p50_ms'])} | "
                   f"{_fmt(row['ttft_p95_ms'])} | {_fmt(row['itl_p50_ms'])} | {_fmt(row['itl_p95_ms'])} | "
                   f"{_fmt(row['request_throughput'])} | {_fmt(row['output_throughput'])} |")
    return "\n".join(out) + "\n"


def _load(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def write(run_dir: str, hosts: list[str], router_name: str, step_files: list[str], out_dir: str) -> dict:
    per_host = {h: _load(os.path.join(run_dir, h, "results.json")) for h in hosts}
    router = _load(os.path.join(run_dir, router_name, "results.json"))
    steps = [d for d in (_load(p) for p in step_files) if d]
    summary = build(per_host, router_name, router, steps)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "fleet-summary.json"), "w", encoding="utf-8") as handle:
        json.dump(summary, handle, indent=1)
    with open(os.path.join(out_dir, "fleet-summary.md"), "w", encoding="utf-8") as handle:
        handle.write(markdown(summary))
    return summary
