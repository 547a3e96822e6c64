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


# A slow engine for the TTFT drill: more concurrent long answers than the demo's max_num_seqs (4), so the canary's
# request waits for a sequence slot (vLLM queues it), as users do on an overloaded host. Bounded in time (and by the
# transient unit's stop); the key is read on the host from the role's 0600 file.
LOAD = r"""
import json, re, sys, threading, time, urllib.request
key = re.search(r"VLLM_API_KEY='?([^'\n]*)", open("/etc/qwen3-deploy/vllm.env").read()).group(1)
body = json.dumps({"model": "qwen3-demo", "max_tokens": 1024, "ignore_eos": True,
                   "messages": [{"role": "user", "content": "Write a long story."}]}).encode()
end = time.monotonic() + float(sys.argv[1])
def worker():
    while time.monotonic() < end:
        request = urllib.request.Request("http://127.0.0.1:8000/v1/chat/completions", data=body,
            headers={"Content-Type": "application/json", "Authorization": "Bearer " + key})
        try:
            urllib.request.urlopen(request, timeout=120).read()
        except Exception:
            time.sleep(1)
threads = [threading.Thread(target=worker) for _ in range(int(sys.argv[2]))]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
"""
LOAD_UNIT = "qwen3-drill-load"


def start_load(host, seconds: int, streams: int = 8) -> None:
    host.exec("sh", "-c", f"cat > /tmp/qwen3-drill-load.py <<'EOF'\n{LOAD}\nEOF")
    done = host.exec("systemd-run", "--unit", LOAD_UNIT, "python3", "/tmp/qwen3-drill-load.py", str(seconds),
                     str(streams))
    if done.returncode != 0:
        raise AssertionError(f"could not start the load: {done.stderr}")


def stop_load(host) -> None:
    host.exec("systemctl", "stop", LOAD_UNIT)
