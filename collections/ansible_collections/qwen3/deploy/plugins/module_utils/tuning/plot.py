"""The capacity curve as a small self-contained SVG (no plotting library): output tokens/s and TTFT p95 per
max_num_seqs, the SLO line, the recommendation and where preemption starts."""

from __future__ import annotations

from html import escape
from typing import Any

W, H = 720, 380
LEFT, RIGHT, TOP, BOTTOM = 70, 70, 40, 60
THROUGHPUT, TTFT, SLO, REC, PREEMPT = "#1f77b4", "#d62728", "#d62728", "#2ca02c", "#7f7f7f"


def _scale(values: list[float]) -> float:
    top = max([v for v in values if v is not None] + [1e-9])
    return top * 1.15


def svg(judged: dict[str, Any], slo: dict[str, Any], title: str) -> str:
    rows = judged["rows"]
    n = max(len(rows), 1)
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (plot_w * (i + 0.5) / n)

    tps = [r["output_tokens_per_s"] for r in rows]
    ttft = [r["ttft_p95_ms"] for r in rows]
    tps_max = _scale(tps)
    # The SLO line is drawn where it falls; one far above the curve (an SLO nothing reaches) is named, not scaled to.
    ttft_top = max([v for v in ttft if v is not None] + [0.0])
    slo_on_scale = slo["ttft_ms"] <= 3 * ttft_top or ttft_top == 0
    ttft_max = _scale([*ttft, slo["ttft_ms"]] if slo_on_scale else ttft)

    def y(value: float, top: float) -> float:
        return TOP + plot_h * (1 - value / top)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="14">{escape(title)}</text>',
           f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>']
    for i, r in enumerate(rows):
        out.append(f'<text x="{x(i):.1f}" y="{H - BOTTOM + 18}" text-anchor="middle">{r["concurrency"]}</text>')
    out.append(f'<text x="{W / 2}" y="{H - 15}" text-anchor="middle">max_num_seqs = client concurrency</text>')
    for frac in (0, 0.5, 1):
        out.append(f'<text x="{LEFT - 6}" y="{y(tps_max * frac, tps_max) + 4:.1f}" text-anchor="end" '
                   f'fill="{THROUGHPUT}">{tps_max * frac:.0f}</text>')
        out.append(f'<text x="{W - RIGHT + 6}" y="{y(ttft_max * frac, ttft_max) + 4:.1f}" '
                   f'fill="{TTFT}">{ttft_max * frac:.0f}</text>')
    out.append(f'<text x="15" y="{TOP + plot_h / 2}" fill="{THROUGHPUT}" transform="rotate(-90 15 {TOP + plot_h / 2})"'
               ' text-anchor="middle">output tokens/s</text>')
    out.append(f'<text x="{W - 15}" y="{TOP + plot_h / 2}" fill="{TTFT}" '
               f'transform="rotate(90 {W - 15} {TOP + plot_h / 2})" text-anchor="middle">TTFT p95 (ms)</text>')
    slo_y = y(slo["ttft_ms"], ttft_max) if slo_on_scale else TOP
    if slo_on_scale:
        out.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{slo_y:.1f}" y2="{slo_y:.1f}" stroke="{SLO}" '
                   'stroke-dasharray="6,4"/>')
    out.append(f'<text x="{LEFT + 4}" y="{slo_y - 4:.1f}" fill="{SLO}">SLO TTFT p95 {slo["ttft_ms"]:g} ms'
               f'{"" if slo_on_scale else " (above this scale)"}</text>')
    for values, top, colour in ((tps, tps_max, THROUGHPUT), (ttft, ttft_max, TTFT)):
        pts = [(x(i), y(v, top)) for i, v in enumerate(values) if v is not None]
        if len(pts) > 1:
            out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="'
                       + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts) + '"/>')
        for (a, b), row in zip(pts, [r for r, v in zip(rows, values, strict=True) if v is not None], strict=True):
            fill = colour if row["passed"] else "white"
            out.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="4" fill="{fill}" stroke="{colour}" stroke-width="2"/>')
    for concurrency, colour, label in ((judged.get("recommended"), REC, "recommended"),
                                       (judged.get("preemption_from"), PREEMPT, "preemption from here")):
        index = next((i for i, r in enumerate(rows) if r["concurrency"] == concurrency), None)
        if index is not None:
            out.append(f'<line x1="{x(index):.1f}" x2="{x(index):.1f}" y1="{TOP}" y2="{TOP + plot_h}" '
                       f'stroke="{colour}" stroke-dasharray="2,3"/>')
            out.append(f'<text x="{x(index) + 4:.1f}" y="{TOP + 14 + (14 if colour == PREEMPT else 0)}" '
                       f'fill="{colour}">{label}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
