"""Talking to vllm-router and keeping its worker list across restarts (FACTS 11, /work/notes/fleet.md).

vllm-router keeps its workers in memory and starts from ``--worker-urls``; its unit reads them from an
EnvironmentFile (``QWEN3_ROUTER_WORKERS=url url``) that is written from a state file here: the inventory's
workers minus the drained ones. So a router restart never puts a drained host back. Drained workers carry a
reason: ``manual`` (an operator, playbooks/fleet_drain.yml) wins over ``rollout`` (the rolling upgrade), and the
rollout brings back only the hosts it took out.

Admin endpoints (no authentication, main port): ``GET /list_workers`` -> ``{"urls": [...]}``, ``GET /workers``,
``POST /remove_worker?url=`` (in-flight streams finish; 200 even for an unknown URL, so the list is checked after),
``POST /add_worker?url=`` (blocks until the worker is healthy; 400 after --worker-startup-timeout-secs).
In-flight per worker: the router's ``vllm_router_running_requests{worker=URL}`` (power_of_two and cache_aware
policies) and the engine's ``vllm:num_requests_running`` + ``vllm:num_requests_waiting``.
Standard library only: this runs on the router host as part of a module.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request

ENV_NAME = "QWEN3_ROUTER_WORKERS"
POLICY_ENV = "QWEN3_ROUTER_POLICY"
# vllm-router refuses to start power_of_two with fewer than 2 workers ("Power-of-two policy requires at least 2
# workers", measured with 0.1.17): with one engine left in the list it starts round_robin instead.
FALLBACK_POLICY = {"power_of_two": ("round_robin", 2)}
REASONS = ("manual", "rollout")
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
# Plain HTTP inside the site: never through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class RouterError(Exception):
    """The router did something other than what was asked."""


# --- state ------------------------------------------------------------------------------------------------------
def empty_state() -> dict:
    return {"workers": [], "drained": {}, "policy": "power_of_two"}


def read_state(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return empty_state()
    state = empty_state()
    state["workers"] = [str(u) for u in data.get("workers", []) if isinstance(u, str)]
    state["drained"] = {str(u): str(r) for u, r in (data.get("drained") or {}).items() if r in REASONS}
    state["policy"] = str(data.get("policy") or state["policy"])
    return state


def active_workers(state: dict) -> list[str]:
    """The workers the router should route to: the inventory's, minus the drained ones, in inventory order."""
    return [url for url in state["workers"] if url not in state["drained"]]


def start_policy(state: dict) -> str:
    """The policy the router can start with: the wanted one, unless too few workers are left for it."""
    fallback, needs = FALLBACK_POLICY.get(state["policy"], (state["policy"], 0))
    return fallback if len(active_workers(state)) < needs else state["policy"]


def env_text(state: dict) -> str:
    urls = active_workers(state)
    return ("# Written by qwen3-deploy (module qwen3.deploy.router_worker): the inventory's workers minus the\n"
            "# drained ones; the router starts from this list (and a policy it can start with).\n"
            f"{ENV_NAME}={' '.join(urls)}\n{POLICY_ENV}={start_policy(state)}\n")


def drain(state: dict, url: str, reason: str) -> dict:
    """A new state with ``url`` drained; ``manual`` is never replaced by ``rollout``."""
    drained = dict(state["drained"])
    if drained.get(url) != "manual":
        drained[url] = reason
    return {**state, "workers": list(state["workers"]), "drained": drained}


def undrain(state: dict, url: str) -> dict:
    drained = {u: r for u, r in state["drained"].items() if u != url}
    return {**state, "workers": list(state["workers"]), "drained": drained}


def configure(state: dict, workers: list[str], policy: str | None = None) -> dict:
    """The inventory's workers (and the wanted policy); drained marks of workers that left the inventory are dropped."""
    return {"workers": list(workers), "drained": {u: r for u, r in state["drained"].items() if u in workers},
            "policy": policy or state["policy"]}


def _write_if_changed(path: str, text: str, mode: int) -> bool:
    if _read(path) == text:
        return False
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return True


def _state_text(state: dict) -> str:
    return json.dumps(state, indent=1, sort_keys=True) + "\n"


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return None


def differs(state: dict, state_file: str, env_file: str) -> bool:
    """Whether ``save`` would change either file (check mode)."""
    return _read(state_file) != _state_text(state) or _read(env_file) != env_text(state)


def save(state: dict, state_file: str, env_file: str) -> bool:
    """Write the state file and the unit's EnvironmentFile; True when either changed."""
    changed = _write_if_changed(state_file, _state_text(state), 0o640)
    return _write_if_changed(env_file, env_text(state), 0o644) or changed


@contextlib.contextmanager
def locked(state_file: str, dry: bool = False):
    """One writer at a time (several engines of a batch drain through the same router at once)."""
    if dry:
        yield
        return
    os.makedirs(os.path.dirname(state_file), exist_ok=True)
    with open(f"{state_file}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- Prometheus text ----------------------------------------------------------------------------------------------
def samples(text: str) -> list[tuple[str, dict, float]]:
    out = []
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if not match or line.startswith("#"):
            continue
        try:
            value = float(match.group(3))
        except ValueError:
            continue
        labels = dict(_LABEL.findall(match.group(2) or ""))
        out.append((match.group(1), labels, value))
    return out


def router_in_flight(text: str, url: str) -> float | None:
    """``vllm_router_running_requests{worker=url}``; None when the router does not export it (its policy)."""
    values = [v for name, labels, v in samples(text)
              if name == "vllm_router_running_requests" and labels.get("worker") == url]
    return sum(values) if values else None


def engine_in_flight(text: str) -> float | None:
    """Running + waiting requests on a vLLM engine (summed over label sets); None without the gauges."""
    names = ("vllm:num_requests_running", "vllm:num_requests_waiting")
    values = [v for name, _labels, v in samples(text) if name in names]
    return sum(values) if values else None


# --- HTTP -------------------------------------------------------------------------------------------------------
def http(method: str, url: str, timeout: float, body: bytes | None = None,
         headers: dict | None = None) -> tuple[int | None, str]:
    """(status, body); status None when nothing answered."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})  # noqa: S310 - http URLs of the site
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError, ValueError) as error:
        return None, str(getattr(error, "reason", error))


class Router:
    """The admin side of one running vllm-router."""

    def __init__(self, url: str, metrics_url: str = "", timeout: float = 5.0):
        self.url = url.rstrip("/")
        self.metrics_url = metrics_url
        self.timeout = timeout

    def running(self) -> bool:
        return http("GET", f"{self.url}/liveness", 2.0)[0] == 200

    def list_workers(self) -> list[str]:
        status, body = http("GET", f"{self.url}/list_workers", self.timeout)
        if status != 200:
            raise RouterError(f"GET /list_workers answered {status}: {body[:200]}")
        return list(json.loads(body).get("urls", []))

    def health(self) -> dict[str, bool]:
        status, body = http("GET", f"{self.url}/workers", self.timeout)
        if status != 200:
            raise RouterError(f"GET /workers answered {status}: {body[:200]}")
        return {w.get("url"): bool(w.get("is_healthy")) for w in json.loads(body).get("workers", [])}

    def remove(self, worker: str) -> None:
        query = urllib.parse.urlencode({"url": worker})
        status, body = http("POST", f"{self.url}/remove_worker?{query}", self.timeout, body=b"")
        # 200 even for a URL it does not know: the list decides.
        if worker in self.list_workers():
            raise RouterError(f"{worker} is still routed to after POST /remove_worker ({status}: {body[:200]})")

    def add(self, worker: str, timeout: float) -> None:
        query = urllib.parse.urlencode({"url": worker})
        status, body = http("POST", f"{self.url}/add_worker?{query}", timeout + 5, body=b"")
        if status != 200 and "already exists" not in body:
            raise RouterError(f"POST /add_worker {worker} answered {status}: {body[:300]}")
        if worker not in self.list_workers():
            raise RouterError(f"{worker} is not in the router's list after POST /add_worker ({status})")

    def in_flight(self, worker: str) -> dict:
        """What is still in flight on ``worker``: the router's gauge and the engine's own."""
        out: dict = {"router": None, "engine": None}
        if self.metrics_url:
            status, body = http("GET", self.metrics_url, self.timeout)
            if status == 200:
                out["router"] = router_in_flight(body, worker)
        status, body = http("GET", f"{worker.rstrip('/')}/metrics", self.timeout)
        if status == 200:
            out["engine"] = engine_in_flight(body)
        return out


def wait_idle(router: Router, worker: str, timeout: float, clock=time.monotonic, sleep=time.sleep) -> dict:
    """Poll until nothing is in flight on ``worker`` (both gauges 0 or absent), at most ``timeout`` seconds."""
    started = clock()
    seen = []
    while True:
        now = router.in_flight(worker)
        elapsed = round(clock() - started, 1)
        seen.append({"t": elapsed, **now})
        if all(v is None or v <= 0 for v in now.values()):
            return {"idle": True, "waited": elapsed, "samples": seen[-20:]}
        if elapsed >= timeout:
            return {"idle": False, "waited": elapsed, "samples": seen[-20:]}
        sleep(0.5)


def wait_healthy(router: Router, worker: str, timeout: float, clock=time.monotonic, sleep=time.sleep) -> float:
    started = clock()
    while True:
        if router.health().get(worker):
            return round(clock() - started, 1)
        if clock() - started >= timeout:
            raise RouterError(f"the router does not report {worker} healthy after {timeout} s")
        sleep(0.5)


def stream_check(router_url: str, api_key: str, model: str, timeout: float) -> str | None:
    """One streamed chat completion through the router: None when it answered 200 and ended with [DONE]."""
    body = json.dumps({"model": model, "stream": True, "max_tokens": 8,
                       "messages": [{"role": "user", "content": "Say hello."}]}).encode()
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    request = urllib.request.Request(f"{router_url.rstrip('/')}/v1/chat/completions", data=body, headers=headers)  # noqa: S310 - http URLs of the site
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            done = any(raw.strip() == b"data: [DONE]" for raw in response)
            return None if done else "the stream ended without [DONE]"
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}: {error.read().decode('utf-8', 'replace')[:200]}"
    except (urllib.error.URLError, OSError) as error:
        return f"{type(error).__name__}: {getattr(error, 'reason', error)}"


def read_key(path: str, name: str) -> str:
    """The value of ``NAME=value`` in an EnvironmentFile (quotes stripped); '' when absent."""
    try:
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                key, sep, value = line.strip().partition("=")
                if sep and key.strip() == name:
                    return value.strip().strip("'\"")
    except OSError:
        return ""
    return ""
