"""The tuner's report on the controller, beside verification's (reports/<run>/<host>/tune/): tune.json (every
point as measured, the verdict), summary.md (the curve as a table, the recommendation, fleet sizing), curve.svg
and host_vars.yml (the snippet to put in the host's host_vars, with provenance)."""

from __future__ import annotations

import json
import os
from typing import Any

import yaml
from ansible_collections.qwen3.deploy.plugins.module_utils.tuning import curve, plot, provenance

FILES = ("tune.json", "summary.md", "curve.svg", "host_vars.yml")


def snippet(host: str, recommended: int, overrides: dict[str, Any], tuned_for: dict[str, Any],
            accelerator: str) -> str:
    """host_vars for the recommendation: max_num_seqs in its one home (llm_profile_overrides, merged with the
    host's other overrides), the provenance preflight compares, and on GPU hosts the KV rule that matches a
    tuned shape (full assumes every sequence at max_model_len at once, which the tuned shape does not)."""
    data: dict[str, Any] = {"llm_profile_overrides": {**(overrides or {}), "max_num_seqs": int(recommended)}}
    if accelerator == "nvidia":
        data["preflight_kv_cache_policy"] = "one_sequence"
    data["preflight_tuned_for"] = tuned_for
    head = (f"# host_vars/{host}.yml - written by playbooks/tune.yml on {tuned_for['date']}; merge into the host's\n"
            "# host_vars (llm_profile_overrides keeps the host's other overrides). preflight warns when the GPU,\n"
            "# vLLM version, profile or max_num_seqs no longer match preflight_tuned_for.\n")
    return head + yaml.safe_dump(data, sort_keys=False, default_flow_style=False)


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def summary_md(host: str, judged: dict[str, Any], *, slo: dict[str, Any], shape: dict[str, Any],
               sizing: dict[str, Any] | None, tuned_for: dict[str, Any] | None, snippet_text: str | None) -> str:
    lines = [f"# Capacity tuning of {host}", "", f"**{judged['headline']}**", "",
             f"Prompt shape: {shape['input_len']} tokens in / {shape['output_len']} out (random dataset); "
             f"SLO: TTFT p95 <= {slo['ttft_ms']:g} ms" + (f", TPOT <= {slo['tpot_ms']:g} ms" if slo.get("tpot_ms")
                                                          else "")
             + f"; a point passes when >= {slo['good_fraction']:.0%} of its requests are good and none fails.", "",
             "| max_num_seqs | passed | TTFT p95 ms | TPOT p95 ms | output tok/s | req/s | good req/s | good | "
             "failed | preemptions | why |",
             "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in judged["rows"]:
        good = "-" if r["good_fraction"] is None else f"{r['good_fraction']:.0%}"
        lines.append(f"| {r['concurrency']} | {'yes' if r['passed'] else 'NO'} | {_fmt(r['ttft_p95_ms'])} | "
                     f"{_fmt(r['tpot_p95_ms'])} | {_fmt(r['output_tokens_per_s'])} | {_fmt(r['requests_per_s'], 2)} | "
                     f"{_fmt(r['good_requests_per_s'], 2)} | {good} | {_fmt(r['failed'])} | {_fmt(r['preemptions'])} "
                     f"| {r['why'] or ''} |")
    lines += ["", "Preemption: " + (f"starts at max_num_seqs {judged['preemption_from']}"
                                    if judged["preemption_from"] else "none seen on this grid")]
    peak = max((r for r in judged["rows"] if r["output_tokens_per_s"] is not None),
               key=lambda r: r["output_tokens_per_s"], default=None)
    if peak:
        lines.append(f"Output throughput peaks at max_num_seqs {peak['concurrency']} "
                     f"({peak['output_tokens_per_s']:.1f} tokens/s on this grid)")
    if judged["passes_above_a_miss"]:
        lines.append(f"Passes above the first miss (not recommended: noise or a warm cache): "
                     f"{judged['passes_above_a_miss']}")
    if sizing:
        lines += ["", f"Fleet sizing: {sizing['line']}"]
    lines += ["", "![capacity curve](curve.svg)", ""]
    if snippet_text:
        lines += ["## host_vars snippet (host_vars.yml)", "", "```yaml", snippet_text.rstrip(), "```", ""]
    return "\n".join(lines)


def sizing_line(target_rate: float | None, judged: dict[str, Any]) -> dict[str, Any] | None:
    """hosts = ceil(peak / good requests/s per host at the recommendation) + 1, for a target rate (None: no line)."""
    if not target_rate:
        return None
    per_host = judged.get("good_requests_per_s")
    hosts = curve.hosts_for_rate(float(target_rate), per_host)
    if hosts is None:
        return {"hosts": None, "line": f"no host met the SLO, so no fleet size for {target_rate:g} requests/s"}
    return {"hosts": hosts, "per_host": per_host,
            "line": (f"{target_rate:g} requests/s at peak needs {hosts} such hosts = ceil({target_rate:g} / "
                     f"{per_host:.3g} good requests/s per host at max_num_seqs {judged['recommended']}) + 1 spare")}


def write(out_dir: str, *, host: str, points: list[dict[str, Any]], slo: dict[str, Any], shape: dict[str, Any],
          llm: dict[str, Any], gpus: dict[str, Any] | None, overrides: dict[str, Any], date: str,
          target_rate: float | None) -> dict[str, Any]:
    """Judge the curve and write the four files; returns the verdict with the snippet and the log lines."""
    os.makedirs(out_dir, exist_ok=True)
    judged = curve.judge(points, slo)
    sizing = sizing_line(target_rate, judged)
    tuned_for = snippet_text = None
    if judged["recommended"] is not None:
        tuned_for = provenance.build(llm, gpus, max_num_seqs=judged["recommended"], input_len=shape["input_len"],
                                     output_len=shape["output_len"], slo=slo, date=date, host=host,
                                     report=os.path.join(out_dir, "summary.md"))
        snippet_text = snippet(host, judged["recommended"], overrides, tuned_for, str(llm.get("accelerator")))
        with open(os.path.join(out_dir, "host_vars.yml"), "w", encoding="utf-8") as handle:
            handle.write(snippet_text)
    title = (f"{host}: {llm.get('name')}, {shape['input_len']} in / {shape['output_len']} out, "
             f"GPU {provenance.gpu_label(gpus)}")
    with open(os.path.join(out_dir, "curve.svg"), "w", encoding="utf-8") as handle:
        handle.write(plot.svg(judged, slo, title))
    with open(os.path.join(out_dir, "summary.md"), "w", encoding="utf-8") as handle:
        handle.write(summary_md(host, judged, slo=slo, shape=shape, sizing=sizing, tuned_for=tuned_for,
                                  snippet_text=snippet_text))
    doc = {"host": host, "date": date, "slo": slo, "shape": shape, "judged": judged, "sizing": sizing,
           "tuned_for": tuned_for, "points": points}
    with open(os.path.join(out_dir, "tune.json"), "w", encoding="utf-8") as handle:
        json.dump(doc, handle, indent=1, default=str)
    lines = [judged["headline"]] + [
        f"max_num_seqs {r['concurrency']}: {'pass' if r['passed'] else 'MISS'}, TTFT p95 {_fmt(r['ttft_p95_ms'])} ms, "
        f"{_fmt(r['output_tokens_per_s'])} output tok/s, good {_fmt(r['good_requests_per_s'], 2)} req/s"
        + (f" ({r['why']})" if r["why"] else "") for r in judged["rows"]]
    if judged["preemption_from"]:
        lines.append(f"preemption starts at max_num_seqs {judged['preemption_from']}")
    if sizing:
        lines.append(f"fleet sizing: {sizing['line']}")
    lines.append(f"report: {out_dir}")
    return {**judged, "sizing": sizing, "tuned_for": tuned_for, "snippet": snippet_text, "lines": lines,
            "out_dir": out_dir}


def check_point(point: dict[str, Any], slo: dict[str, Any]) -> dict[str, Any]:
    """Re-verification under load (tune_apply): the one capacity point at the recommendation, judged alike."""
    passed = curve.point_passes(point, slo.get("good_fraction", curve.GOOD_FRACTION))
    return {"passed": passed, "why": curve.why_missed(point, slo)}
