"""Render latency results (JSON from ``qwen3-hosttools latency measure``) into reports on the controller.

Writes, into one directory per run and host: ``results.json`` (input plus threshold
verdict), ``summary.md``, ``junit.xml`` and ``latency.png`` (TTFT and ITL distributions).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from typing import Any
from xml.etree import ElementTree as ET

from ansible_collections.qwen3.deploy.plugins.module_utils.browser_stats import PHASES
from ansible_collections.qwen3.deploy.plugins.module_utils.verify_thresholds import Failure, check_thresholds

SUMMARY_ROWS = (
    ("ttft_ms", "TTFT, first content token (ms)"),
    ("ttfc_ms", "first chunk, vllm-bench TTFT (ms)"),
    ("ttfb_ms", "first byte (ms)"),
    ("itl_ms", "inter-token latency (ms)"),
    ("decode_tokens_per_s", "decode (tokens/s)"),
    ("total_ms", "total (ms)"),
    ("tokens_per_event", "tokens per event"),
    ("chars_per_event", "chars per event"),
    ("events", "events per request"),
)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"
    return str(v)


# Rows only the real-browser target has (module_utils/browser_stats.py); other targets show "-".
BROWSER_ROWS = (
    ("first_text_ms", "browser: answer text in a painted frame, any opacity (ms)"),
    ("enter_to_post_ms", "browser: Enter -> POST sent (ms)"),
    ("post_to_first_delta_ms", "browser: POST -> first text on the socket (ms)"),
    ("engine_ttft_ms", "browser: the engine's TTFT for that answer (ms)"),
    ("delta_to_paint_ms", "browser: socket frame -> first paint (ms)"),
    ("paint_updates", "browser: paint updates per answer"),
    ("chars_per_update", "browser: chars per paint update"),
)


def browser_timeline(summary: dict) -> list[str]:
    """Per-phase p50 of each real-browser target, Enter to first painted text."""
    out = []
    for t in summary["targets"].values():
        if t["kind"] != "browser" or not t.get("timeline"):
            continue
        out += ["", f"Real browser ({t['target']}, {t['url']}): where the time from Enter to the first painted "
                "answer text goes (p50 over requests, ms):", ""]
        out += [f"- {label}: {_fmt(t['timeline'].get(key))}" for key, label in PHASES]
        if t.get("answers_with_lt"):
            out.append(f"- answers containing '<': {t['answers_with_lt']}")
    return out


def markdown(doc: dict, fails: list[Failure] | None, host: str) -> str:
    s = doc["summary"]
    st = doc["settings"]
    out = [f"# Latency verification: {host}", ""]
    out.append(f"Run {doc['started_at']} on `{doc.get('host', host)}`, {st['n']} measured requests per "
               f"target after {st['warmup']} warm-up, max_tokens {st['max_tokens']}, "
               f"limits {st['timeout_s']} s per request / {st['time_limit_s']} s total.")
    out.append("")
    out.append("TTFT = time to the first streamed event with non-empty content (reasoning and <think> text excluded); "
               "'first chunk' counts empty role chunks and reasoning like `vllm bench serve` does.")
    out.append("")
    names = list(s["targets"])
    out.append("| target | " + " | ".join(names) + " |")
    out.append("| --- |" + " --- |" * len(names))
    ts = [s["targets"][n] for n in names]
    out.append("| path | " + " | ".join(t["title"] for t in ts) + " |")
    out.append("| ok / attempted | " + " | ".join(f"{t['ok']} / {t['attempted']}" for t in ts) + " |")
    for key, label in SUMMARY_ROWS:
        cells = []
        for t in ts:
            d = t["stats"][key]
            cells.append(f"{_fmt(d['p50'])} / {_fmt(d['p95'])} / {_fmt(d['max'])}" if d["n"] else "-")
        out.append(f"| {label} p50 / p95 / max | " + " | ".join(cells) + " |")
    for key, label in BROWSER_ROWS:
        if not any(key in t["stats"] for t in ts):
            continue
        cells = []
        for t in ts:
            d = t["stats"].get(key) or {"n": 0}
            cells.append(f"{_fmt(d['p50'])} / {_fmt(d['p95'])} / {_fmt(d['max'])}" if d["n"] else "-")
        out.append(f"| {label} p50 / p95 / max | " + " | ".join(cells) + " |")
    out.append("| thinking leaks | " + " | ".join(str(t["thinking_leaks"]) for t in ts) + " |")
    out.append("| errors | " + " | ".join(
        (", ".join(f"{k}: {v}" for k, v in t["errors"].items()) or "none")
        + (f" (unreachable: {t['unreachable']})" if t["unreachable"] else "") for t in ts) + " |")
    if s.get("webui_overhead"):
        out += ["", "Open WebUI overhead over the engine (TTFT difference):", ""]
        for name, ov in s["webui_overhead"].items():
            out.append(f"- {name}: p50 {_fmt(ov['ttft_p50_ms'])} ms, p95 {_fmt(ov['ttft_p95_ms'])} ms")
    out += browser_timeline(s)
    out.append("")
    if fails is None:
        out.append("No thresholds given.")
    elif not fails:
        out.append("All thresholds met: " + ", ".join(f"{k}={v}" for k, v in doc.get("thresholds", {}).items()))
    else:
        out += ["## Thresholds missed", "", "| metric | target | measured | limit | note |",
                "| --- | --- | --- | --- | --- |"]
        out += [f"| {f.metric} | {f.target} | {_fmt(f.value)} | {_fmt(f.limit)} | {f.note} |" for f in fails]
    return "\n".join(out) + "\n"


def junit(doc: dict, fails: list[Failure] | None, host: str) -> str:
    """One testsuite per host; one testcase per target plus one per threshold."""
    suite = ET.Element("testsuite", name=f"qwen3-latency.{host}", timestamp=doc["started_at"],
                       time=str(doc.get("duration_s", 0)))
    cases = 0
    failures = 0
    for name, t in doc["summary"]["targets"].items():
        cases += 1
        tc = ET.SubElement(suite, "testcase", classname=f"{host}.stream", name=name)
        if t["unreachable"]:
            failures += 1
            ET.SubElement(tc, "failure", message=t["unreachable"])
        elif t["ok"] == 0:
            failures += 1
            ET.SubElement(tc, "failure", message=f"no successful request: {t['first_error']}")
        ET.SubElement(tc, "system-out").text = json.dumps(t["stats"]["ttft_ms"])
    thresholds = doc.get("thresholds") or {}
    by_metric: dict[str, list[Failure]] = {}
    for f in fails or []:
        key = "thinking_allowed" if f.metric == "thinking_leaks" else f.metric
        by_metric.setdefault(key, []).append(f)
    for key, limit in thresholds.items():
        cases += 1
        tc = ET.SubElement(suite, "testcase", classname=f"{host}.threshold", name=f"{key}={limit}")
        if key in by_metric:
            failures += 1
            msg = "; ".join(f"{f.target}: {f.value} vs {f.limit}" for f in by_metric[key])
            ET.SubElement(tc, "failure", message=msg)
    suite.set("tests", str(cases))
    suite.set("failures", str(failures))
    suite.set("errors", "0")
    ET.indent(suite)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def plot(doc: dict, path: str, host: str) -> bool:
    """Box + strip plot of TTFT per target and ITL histogram. False when nothing to draw."""
    import matplotlib  # noqa: PLC0415 - only the plot needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    runs = [r for r in doc["runs"] if any(x["ok"] for x in r["results"])]
    if not runs:
        return False
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    ttft = [[x["ttft_ms"] for x in r["results"] if x["ok"]] for r in runs]
    labels = [r["target"] for r in runs]
    ax1.boxplot(ttft, showfliers=False)
    ax1.set_xticks(range(1, len(labels) + 1), labels)
    for i, vals in enumerate(ttft, start=1):
        ax1.plot([i] * len(vals), vals, "o", alpha=0.5, markersize=3)
    ax1.set_ylabel("TTFT, first content token (ms)")
    ax1.set_title("TTFT per path")
    for r in runs:
        itl = [g for x in r["results"] if x["ok"] for g in x["itl_ms"]]
        if itl:
            ax2.hist(itl, bins=40, alpha=0.5, label=r["target"])
    ax2.set_xlabel("inter-token latency (ms)")
    ax2.set_ylabel("count")
    ax2.set_title("ITL distribution")
    if ax2.get_legend_handles_labels()[0]:
        ax2.legend()
    fig.suptitle(f"{host}  {doc['started_at']}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def write_reports(doc: dict, out_dir: str, host: str, thresholds: dict | None,
                  with_plot: bool = True) -> list[Failure] | None:
    os.makedirs(out_dir, exist_ok=True)
    fails = None
    if thresholds is not None:
        fails = check_thresholds(doc["summary"], thresholds)
        doc["thresholds"] = thresholds
        doc["failures"] = [asdict(f) for f in fails]
    with open(os.path.join(out_dir, "results.json"), "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=1)
    with open(os.path.join(out_dir, "summary.md"), "w", encoding="utf-8") as fh:
        fh.write(markdown(doc, fails, host))
    with open(os.path.join(out_dir, "junit.xml"), "w", encoding="utf-8") as fh:
        fh.write(junit(doc, fails, host))
    if with_plot:
        plot(doc, os.path.join(out_dir, "latency.png"), host)
    return fails
