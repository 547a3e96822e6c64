"""A whole measurement: every target in turn, bounded by request count and time; the JSON document."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import requests

from qwen3_hosttools.latency.kinds import DEFINITIONS, KIND_TITLES
from qwen3_hosttools.latency.records import RequestResult
from qwen3_hosttools.latency.socketpath import SocketPath
from qwen3_hosttools.latency.stats import summarize
from qwen3_hosttools.latency.transport import Target, measure_http, probe

TOOL_VERSION = "2"


def run_target(target: Target, *, n: int, warmup: int, prompt: str, max_tokens: int,
               timeout_s: float, deadline: float, session: Any = None,
               clock: Callable[[], float] = time.perf_counter,
               record: dict | None = None) -> dict:
    """Warm up, then measure up to ``n`` requests before ``deadline`` (clock seconds)."""
    session = session or requests.Session()
    out: dict[str, Any] = {"target": target.name, "kind": target.kind, "url": target.base_url,
                           "model": target.model, "title": KIND_TITLES[target.kind],
                           "requested": n, "warmup": warmup, "results": [], "warmup_results": [],
                           "skipped": 0, "unreachable": None}
    reason = target.problem or probe(session, target)
    if reason:
        out["unreachable"] = reason
        out["skipped"] = n
        return out
    sock = None
    try:
        if target.kind == "webui-socket":
            try:
                sock = SocketPath(target, session, timeout_s, clock, target.params)
            except Exception as exc:
                out["unreachable"] = f"Socket.IO connect to {target.base_url}/ws/socket.io failed: {exc}"
                out["skipped"] = n
                return out

        def one(i: int) -> RequestResult:
            rec: list | None = [] if record is not None else None
            if sock is not None:
                res = sock.measure(i, prompt, max_tokens, rec)
            else:
                res = measure_http(session, target, i, prompt=prompt, max_tokens=max_tokens,
                                   timeout_s=min(timeout_s, max(1.0, deadline - clock())),
                                   clock=clock, record=rec)
            if record is not None:
                record.setdefault(target.name, []).append(rec)
            return res

        for i in range(warmup):
            if clock() >= deadline:
                break
            out["warmup_results"].append(asdict(one(-1 - i)))
        for i in range(n):
            if clock() >= deadline:
                out["skipped"] = n - i
                break
            out["results"].append(asdict(one(i)))
    finally:
        if sock is not None:
            sock.close()
    return out


def run(targets: list[Target], *, n: int, warmup: int, prompt: str, max_tokens: int,
        timeout_s: float, time_limit_s: float, clock: Callable[[], float] = time.perf_counter,
        record: dict | None = None) -> dict:
    """Measure every target in turn, bounded by ``n`` and ``time_limit_s`` overall."""
    start_wall = time.time()
    deadline = clock() + time_limit_s
    runs = []
    with requests.Session() as session:
        for target in targets:
            runs.append(run_target(target, n=n, warmup=warmup, prompt=prompt, max_tokens=max_tokens,
                                   timeout_s=timeout_s, deadline=deadline, session=session,
                                   clock=clock, record=record))
    return {
        "tool": "qwen3-latency", "tool_version": TOOL_VERSION,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start_wall)),
        "duration_s": round(time.time() - start_wall, 3),
        "host": os.uname().nodename,
        "settings": {"n": n, "warmup": warmup, "max_tokens": max_tokens, "timeout_s": timeout_s,
                     "time_limit_s": time_limit_s, "prompt": prompt},
        "definitions": DEFINITIONS,
        "runs": runs,
        "summary": summarize(runs),
    }
