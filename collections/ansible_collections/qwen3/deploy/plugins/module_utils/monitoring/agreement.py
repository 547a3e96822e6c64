"""Does Prometheus see the TTFT the probe measured? The check verification runs on the direct engine phase.

The canary is paused, the probe sends a known number of requests straight to the engine, and Prometheus' view of
vLLM's TTFT histogram over exactly that window must (1) have counted exactly those requests (``_count`` risen by
the number sent, warm-ups included: they are requests too) and (2) put the p95 where the probe did, within the
width of the histogram bucket at the probe's value: a histogram cannot say more than its bucket (vLLM 0.32.0's TTFT
buckets start 1, 5, 10, 20, 40 ms, FACTS §11), and the client's TTFT includes the HTTP hop the engine's does not.

``quantile`` is Prometheus' own ``histogram_quantile`` (promql/quantile.go: linear interpolation inside the bucket,
the lowest bucket's lower bound 0, a quantile in the +Inf bucket reported as the highest finite bound).
"""

from __future__ import annotations

import math


def _buckets(deltas: dict) -> list[tuple[float, float]]:
    out = sorted((math.inf if str(le) == "+Inf" else float(le), float(count)) for le, count in deltas.items())
    if not out or out[-1][0] != math.inf:
        raise ValueError("the histogram has no +Inf bucket")
    return out


def quantile(q: float, deltas: dict) -> float:
    """``histogram_quantile(q, ...)`` over cumulative bucket counts ``{le: count}``."""
    buckets = _buckets(deltas)
    total = buckets[-1][1]
    if total <= 0:
        return math.nan
    rank = q * total
    index = next(i for i, (_le, count) in enumerate(buckets) if count >= rank)
    if index == len(buckets) - 1:
        return buckets[-2][0] if len(buckets) > 1 else math.nan
    upper, count = buckets[index]
    lower, below = (0.0, 0.0) if index == 0 else buckets[index - 1]
    inside = count - below
    return upper if inside <= 0 else lower + (upper - lower) * (rank - below) / inside


def bucket_index(value: float, deltas: dict) -> int:
    """Index of the bucket ``(lower, le]`` a value falls in (the +Inf bucket last)."""
    bounds = [le for le, _count in _buckets(deltas)]
    return next(i for i, upper in enumerate(bounds) if value <= upper)


def _bounds(index: int, deltas: dict) -> str:
    bounds = [le for le, _count in _buckets(deltas)]
    lower = 0.0 if index == 0 else bounds[index - 1]
    return f"({lower * 1000:g}, {bounds[index] * 1000:g}] ms"


def ttft_agreement(probe_p95_s: float, prometheus_p95_s: float, deltas: dict, count_delta: float,
                   requests_sent: int) -> list[str]:
    """Problems, one line each (empty: Prometheus agrees with the probe). Agreement: both p95s in the same bucket,
    or in neighbouring buckets (a value near a bound: the client's TTFT adds the HTTP hop, and Prometheus
    interpolates inside a bucket it cannot see into)."""
    problems = []
    if round(count_delta) != requests_sent:
        problems.append(f"vLLM's TTFT histogram counted {count_delta:g} requests in the probe's window, the probe sent "
                        f"{requests_sent}: another client used the engine, or a scrape was missed")
    if math.isnan(prometheus_p95_s):
        problems.append("Prometheus has no TTFT p95 for the probe's window")
        return problems
    probe, prometheus = bucket_index(probe_p95_s, deltas), bucket_index(prometheus_p95_s, deltas)
    if abs(probe - prometheus) > 1:
        problems.append(f"Prometheus' TTFT p95 {prometheus_p95_s * 1000:.1f} ms (bucket {_bounds(prometheus, deltas)}) "
                        f"is more than one bucket from the probe's {probe_p95_s * 1000:.1f} ms "
                        f"(bucket {_bounds(probe, deltas)})")
    return problems
