"""Day-two checks from inside a deployed host: Prometheus' and Alertmanager's own APIs on loopback (where they listen),
through python3 on the host, and waits bounded in time."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

PROMETHEUS = "http://127.0.0.1:9090"
ALERTMANAGER = "http://127.0.0.1:9093"

_GET = r"""
import json, sys, urllib.parse, urllib.request
url = sys.argv[1]
if len(sys.argv) > 2:
    url += "?" + urllib.parse.urlencode({"query": sys.argv[2]})
with urllib.request.urlopen(url, timeout=20) as response:
    print(response.read().decode())
"""


def get(host, url: str, query: str | None = None):
    done = host.exec("python3", "-c", _GET, url, *([query] if query else []), timeout=60)
    if done.returncode != 0:
        raise AssertionError(f"GET {url} failed on the host: {done.stderr[-500:]}")
    return json.loads(done.stdout)


def query(host, promql: str) -> list[dict]:
    return get(host, f"{PROMETHEUS}/api/v1/query", promql)["data"]["result"]


def targets(host) -> list[dict]:
    return get(host, f"{PROMETHEUS}/api/v1/targets")["data"]["activeTargets"]


def firing(host) -> list[dict]:
    """Alerts Alertmanager holds now (active, not resolved), as ``{alertname, host, path, ...}`` label dicts."""
    return [alert["labels"] for alert in get(host, f"{ALERTMANAGER}/api/v2/alerts")
            if alert.get("status", {}).get("state") == "active"]


def names(alerts: list[dict], **labels) -> set[str]:
    return {a["alertname"] for a in alerts if all(a.get(k) == v for k, v in labels.items())}


def wait_until(what: str, check: Callable[[], object], timeout: float, every: float = 5.0):
    """Seconds until ``check()`` is truthy; raises naming ``what`` with the last value after ``timeout`` s."""
    started = time.monotonic()
    value = None
    while time.monotonic() - started < timeout:
        value = check()
        if value:
            return time.monotonic() - started
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout:.0f} s (last seen: {value!r})")
