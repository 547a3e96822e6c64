"""A bounded load generator for the fleet tests: a few concurrent streams through the router, each with a fixed
request budget and the whole run with a time limit, so it stops by itself even if the test hangs.

Each stream pauses ``pause`` seconds between its requests: a user's think time, and on this 2-core machine the
difference between a rollout measured under load and engines that cannot start because the load takes every core.

A request fails when it gets a non-2xx status, ends without ``data: [DONE]``, or times out (or any connection
error). TTFT = first streamed event with non-empty content. Standard library only; no proxy from the environment.

    load = Load("http://10.0.0.5:30000", key, "qwen3-demo", streams=3)
    load.start(); ...; load.stop()
    load.summary(since=t0, until=t1)   # sent, failed, ttft p50/p95 of requests started in [t0, t1)
"""

from __future__ import annotations

import json
import statistics
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Record:
    stream: int
    start: float
    end: float = 0.0
    ttft_ms: float | None = None
    status: int | None = None
    done: bool = False
    error: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.error) or self.status is None or not 200 <= self.status < 300 or not self.done


def one_request(url: str, key: str, model: str, *, max_tokens: int, timeout: float, stream: int) -> Record:
    body = json.dumps({"model": model, "stream": True, "max_tokens": max_tokens, "ignore_eos": True,
                       "messages": [{"role": "user", "content": "Count from one to twenty."}]}).encode()
    request = urllib.request.Request(f"{url.rstrip('/')}/v1/chat/completions", data=body,
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
    record = Record(stream=stream, start=time.time())
    started = time.perf_counter()
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            record.status = response.status
            for raw in response:
                line = raw.decode("utf-8", "replace").strip()
                if line == "data: [DONE]":
                    record.done = True
                    break
                if record.ttft_ms is None and line.startswith("data: "):
                    for choice in json.loads(line[6:]).get("choices", []):
                        if (choice.get("delta") or {}).get("content"):
                            record.ttft_ms = (time.perf_counter() - started) * 1000
                if time.perf_counter() - started > timeout:
                    record.error = "timeout"
                    break
    except urllib.error.HTTPError as error:
        record.status = error.code
        record.error = f"HTTP {error.code}"
    except Exception as error:
        record.error = f"{type(error).__name__}: {error}"
    record.end = time.time()
    return record


@dataclass
class Load:
    url: str
    key: str
    model: str
    streams: int = 3
    requests_per_stream: int = 20000
    time_limit: float = 1800.0
    pause: float = 0.5
    timeout: float = 30.0
    max_tokens: int = 16
    records: list[Record] = field(default_factory=list)

    def __post_init__(self):
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def _run(self, stream: int) -> None:
        deadline = time.monotonic() + self.time_limit
        for _ in range(self.requests_per_stream):
            if self._stop.is_set() or time.monotonic() > deadline:
                return
            record = one_request(self.url, self.key, self.model, max_tokens=self.max_tokens, timeout=self.timeout,
                                 stream=stream)
            with self._lock:
                self.records.append(record)
            self._stop.wait(self.pause)

    def start(self) -> Load:
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(self.streams)]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 5)

    def window(self, since: float = 0.0, until: float = float("inf")) -> list[Record]:
        with self._lock:
            return [r for r in self.records if since <= r.start < until]

    def summary(self, since: float = 0.0, until: float = float("inf")) -> dict:
        records = self.window(since, until)
        ttfts = sorted(r.ttft_ms for r in records if r.ttft_ms is not None and not r.failed)
        return {
            "sent": len(records),
            "failed": sum(r.failed for r in records),
            "errors": sorted({r.error or f"status {r.status} done={r.done}" for r in records if r.failed})[:10],
            # When each failure started and ended (wall clock, UTC), to line up with the journals.
            "failures": [{"start": _utc(r.start), "end": _utc(r.end), "stream": r.stream,
                          "error": r.error or f"status {r.status} done={r.done}"}
                         for r in records if r.failed][:20],
            "ttft_p50_ms": round(percentile(ttfts, 50), 1) if ttfts else None,
            "ttft_p95_ms": round(percentile(ttfts, 95), 1) if ttfts else None,
        }


def _utc(t: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1000):03d}"


def percentile(values: list[float], p: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]
