#!/usr/bin/python
"""Module qwen3.deploy.router_worker: put engines in and out of a vllm-router, keeping the list across restarts."""

from __future__ import annotations

DOCUMENTATION = r"""
module: router_worker
short_description: Drain an engine from vllm-router (waiting for its in-flight requests) or put it back
description:
  - Runs on the router host. The router's worker list lives in its memory; this module keeps the intended list in
    I(state_file) (the inventory's workers and the drained ones, each with a reason) and writes the router unit's
    EnvironmentFile I(env_file) from it, so a restarted router starts without the drained hosts.
  - C(state=configured) records the inventory's I(workers); on a running router it removes workers that left the
    inventory and adds new ones that are not drained.
  - C(state=drained) marks I(worker) drained (reason C(manual) is never replaced by C(rollout)), removes it from the
    running router, checks the router's list no longer has it, then waits until nothing is in flight on it (the
    router's C(vllm_router_running_requests) and the engine's C(vllm:num_requests_running/waiting)), at most
    I(drain_timeout) seconds.
  - C(state=active) puts I(worker) back (C(POST /add_worker) waits until the engine is healthy, at most
    I(add_timeout)), waits until the router reports it healthy, sends I(check_requests) streamed requests through
    the router (each must answer 200 and end with [DONE]) and only then forgets the drain. A worker drained with
    reason C(manual) stays out unless I(reason=manual).
  - C(state=status) reports. When the router is not running, only the files change (it reads them at start).
options:
  state: {description: What to do., type: str, choices: [configured, drained, active, status], default: status}
  router_url: {description: The router's API and admin URL on this host., type: str, required: true}
  metrics_url: {description: The router's Prometheus URL (empty = engine gauges only)., type: str, default: ""}
  state_file: {description: JSON state file., type: path, required: true}
  env_file: {description: The unit's EnvironmentFile with QWEN3_ROUTER_WORKERS., type: path, required: true}
  workers: {description: The inventory's worker URLs (state=configured)., type: list, elements: str, default: []}
  policy:
    description:
      - The wanted routing policy (state=configured), kept in the state file. The unit starts with it, unless too
        few workers are left for it (power_of_two needs 2; then round_robin until the next start).
    type: str
    default: ""
  worker: {description: One worker URL (state=drained or active)., type: str, default: ""}
  reason: {description: Why it is drained (state=drained); which drains state=active may end., type: str,
           choices: [manual, rollout], default: rollout}
  drain_timeout: {description: Seconds to wait for in-flight requests to finish., type: int, default: 120}
  add_timeout: {description: Seconds to wait for a worker to become healthy., type: int, default: 120}
  check_requests: {description: Streamed requests sent through the router after adding., type: int, default: 3}
  api_key_file: {description: File with the engine key clients send (for check_requests)., type: path, default: ""}
  api_key_name: {description: Variable name in api_key_file., type: str, default: VLLM_API_KEY}
  model: {description: Served model name (for check_requests)., type: str, default: ""}
"""

RETURN = r"""
router_running: {description: the router answered /liveness, type: bool, returned: always}
routed: {description: the running router's worker list afterwards, type: list, returned: always}
active: {description: workers the router starts with (state file), type: list, returned: always}
drained: {description: drained workers and why, type: dict, returned: always}
drain: {description: the in-flight wait (idle, waited seconds, samples), type: dict, returned: state=drained}
kept_out: {description: the worker stayed out because an operator drained it, type: bool, returned: state=active}
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402 - modules keep DOCUMENTATION first
from ansible_collections.qwen3.deploy.plugins.module_utils import router as r  # noqa: E402


def _configured(module, router, state, running):
    p = module.params
    new = r.configure(state, p["workers"], p["policy"] or None)
    changed = False
    if running:
        routed = router.list_workers()
        for url in [u for u in routed if u not in p["workers"]]:
            changed = True
            if not module.check_mode:
                router.remove(url)
        for url in [u for u in r.active_workers(new) if u not in routed]:
            changed = True
            if not module.check_mode:
                router.add(url, p["add_timeout"])
    return new, changed, {}


def _drained(module, router, state, running):
    p = module.params
    url = p["worker"]
    new = r.drain(state, url, p["reason"])
    changed = new != state
    extra = {"drain": {"idle": True, "waited": 0.0, "samples": []}}
    if running and url in router.list_workers():
        changed = True
        if module.check_mode:
            return new, changed, extra
        router.remove(url)
    if running and not module.check_mode:
        extra["drain"] = r.wait_idle(router, url, p["drain_timeout"])
        if not extra["drain"]["idle"]:
            module.warn(f"{url}: requests still in flight after {p['drain_timeout']} s (drain_timeout); going on")
    return new, changed, extra


def _active(module, router, state, running):
    p = module.params
    url = p["worker"]
    if state["drained"].get(url) == "manual" and p["reason"] != "manual":
        return state, False, {"kept_out": True}
    new = r.undrain(state, url)
    changed = new != state
    if running:
        if url not in router.list_workers():
            changed = True
            if module.check_mode:
                return new, changed, {"kept_out": False}
            router.add(url, p["add_timeout"])
        if not module.check_mode:
            r.wait_healthy(router, url, p["add_timeout"])
            key = r.read_key(p["api_key_file"], p["api_key_name"]) if p["api_key_file"] else ""
            for index in range(p["check_requests"]):
                problem = r.stream_check(p["router_url"], key, p["model"], timeout=60)
                if problem:
                    # Out again: a host that does not serve through the router gets no traffic.
                    router.remove(url)
                    raise r.RouterError(f"request {index + 1} through the router after adding {url} failed: {problem}")
    return new, changed, {"kept_out": False}


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "state": {"type": "str", "choices": ["configured", "drained", "active", "status"], "default": "status"},
            "router_url": {"type": "str", "required": True},
            "metrics_url": {"type": "str", "default": ""},
            "state_file": {"type": "path", "required": True},
            "env_file": {"type": "path", "required": True},
            "workers": {"type": "list", "elements": "str", "default": []},
            "policy": {"type": "str", "default": ""},
            "worker": {"type": "str", "default": ""},
            "reason": {"type": "str", "choices": ["manual", "rollout"], "default": "rollout"},
            "drain_timeout": {"type": "int", "default": 120},
            "add_timeout": {"type": "int", "default": 120},
            "check_requests": {"type": "int", "default": 3},
            "api_key_file": {"type": "path", "default": ""},
            "api_key_name": {"type": "str", "default": "VLLM_API_KEY"},
            "model": {"type": "str", "default": ""},
        },
        required_if=[("state", "drained", ["worker"]), ("state", "active", ["worker"])],
        supports_check_mode=True,
    )
    p = module.params
    router = r.Router(p["router_url"], p["metrics_url"])
    steps = {"configured": _configured, "drained": _drained, "active": _active}
    try:
        with r.locked(p["state_file"], dry=module.check_mode):
            state = r.read_state(p["state_file"])
            running = router.running()
            new, changed, extra = state, False, {}
            if p["state"] in steps:
                new, changed, extra = steps[p["state"]](module, router, state, running)
            if p["state"] != "status":
                if module.check_mode:
                    changed = changed or r.differs(new, p["state_file"], p["env_file"])
                else:
                    changed = r.save(new, p["state_file"], p["env_file"]) or changed
            routed = router.list_workers() if running else []
    except r.RouterError as error:
        module.fail_json(msg=str(error))
    module.exit_json(changed=changed, router_running=running, routed=routed, active=r.active_workers(new),
                     drained=new["drained"], **extra)


if __name__ == "__main__":
    main()
