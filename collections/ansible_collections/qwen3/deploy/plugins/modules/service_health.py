#!/usr/bin/python
"""Module qwen3.deploy.service_health: wait until a systemd service answers HTTP, or see it crash, fast."""

from __future__ import annotations

DOCUMENTATION = r"""
module: service_health
short_description: Wait for a systemd service to answer its health URL; fail within seconds when it crash-loops
description:
  - Polls the unit with C(systemctl show) and its health URL once a second. Succeeds on the expected HTTP status.
  - Fails as soon as the service's main process has exited since the wait began (state failed or auto-restart,
    a new main PID after one had run, or more automatic restarts than at the start), instead of waiting out
    the whole timeout while systemd restarts it again and again. The failure carries the journal since then.
  - Changes nothing; runs in check mode.
options:
  unit:
    description: systemd unit name.
    type: str
    required: true
  url:
    description: Health URL on the host (e.g. http://127.0.0.1:8000/health).
    type: str
    required: true
  timeout:
    description: Seconds to wait at most for a service that is still starting.
    type: int
    default: 600
  status_code:
    description: HTTP status that means healthy.
    type: int
    default: 200
  journal_lines:
    description: Journal lines returned on failure.
    type: int
    default: 40
"""

RETURN = r"""
healthy: {description: the URL answered with status_code, type: bool, returned: always}
elapsed: {description: seconds waited, type: float, returned: always}
reason: {description: why the wait ended (healthy, crashed, failed, timeout, inactive), type: str, returned: always}
restarts: {description: automatic restarts seen (NRestarts), type: int, returned: always}
journal: {description: journal lines of the unit since the wait began, type: list, returned: on failure}
"""

import json  # noqa: E402 - modules keep DOCUMENTATION first
import subprocess  # noqa: E402
import time  # noqa: E402
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

PROPERTIES = ("ActiveState", "SubState", "MainPID", "NRestarts", "ExecMainStatus", "Result")


def unit_state(unit: str) -> dict:
    out = subprocess.run(
        ["systemctl", "show", unit, "--property=" + ",".join(PROPERTIES)],
        capture_output=True, text=True, check=False,
    ).stdout
    state = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    for key in ("MainPID", "NRestarts", "ExecMainStatus"):
        try:
            state[key] = int(state.get(key, "0") or 0)
        except ValueError:
            state[key] = 0
    return state


def http_status(url: str, timeout: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - the unit's own local URL
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (urllib.error.URLError, OSError, ValueError):
        return None


def journal(unit: str, since_epoch: float, lines: int, run=subprocess.run) -> list[str]:
    """The last `lines` journal lines of the unit since the wait began. The tail is cut here: with --since,
    journalctl's --lines gave the first lines after that time (systemd 252, Debian 12), i.e. the old process's
    shutdown, not the new one's error."""
    out = run(
        ["journalctl", "--unit", unit, "--no-pager", "--output", "cat", "--since", f"@{int(since_epoch) - 1}"],
        capture_output=True, text=True, check=False,
    ).stdout
    return out.splitlines()[-lines:]


def crashed(first: dict, now: dict, seen_pids: set) -> str | None:
    """Why the service is not on its way up any more, or None while it may still be starting."""
    if now.get("ActiveState") == "failed":
        return f"failed (Result={now.get('Result')}, exit status {now.get('ExecMainStatus')})"
    if now.get("SubState") == "auto-restart":
        return f"exited with status {now.get('ExecMainStatus')} and systemd is restarting it"
    if now["NRestarts"] > first["NRestarts"]:
        return f"restarted automatically {now['NRestarts'] - first['NRestarts']} time(s) while starting"
    if now["MainPID"] and seen_pids and now["MainPID"] not in seen_pids:
        return f"main process changed (exited, pid {sorted(seen_pids)} -> {now['MainPID']})"
    if now.get("ActiveState") == "inactive":
        return "inactive (stopped)"
    return None


def wait(unit: str, url: str, timeout: float, status_code: int, *, clock=time.monotonic, sleep=time.sleep,
         state_of=unit_state, status_of=http_status) -> dict:
    started = clock()
    first = state_of(unit)
    seen_pids = {first["MainPID"]} if first["MainPID"] else set()
    while True:
        elapsed = round(clock() - started, 1)
        now = state_of(unit)
        reason = crashed(first, now, seen_pids)
        if reason:
            return {"healthy": False, "elapsed": elapsed, "reason": "crashed", "detail": reason,
                    "restarts": now["NRestarts"], "state": now}
        if now["MainPID"]:
            seen_pids.add(now["MainPID"])
        if now.get("ActiveState") == "active" and status_of(url) == status_code:
            return {"healthy": True, "elapsed": elapsed, "reason": "healthy", "detail": "",
                    "restarts": now["NRestarts"], "state": now}
        if elapsed >= timeout:
            return {"healthy": False, "elapsed": elapsed, "reason": "timeout",
                    "detail": f"no HTTP {status_code} from {url} within {timeout} s", "restarts": now["NRestarts"],
                    "state": now}
        sleep(1.0)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "unit": {"type": "str", "required": True},
            "url": {"type": "str", "required": True},
            "timeout": {"type": "int", "default": 600},
            "status_code": {"type": "int", "default": 200},
            "journal_lines": {"type": "int", "default": 40},
        },
        supports_check_mode=True,
    )
    p = module.params
    since = time.time()
    result = wait(p["unit"], p["url"], p["timeout"], p["status_code"])
    result["state"] = json.loads(json.dumps(result["state"]))
    if result["healthy"]:
        module.exit_json(changed=False, **result)
    result["journal"] = journal(p["unit"], since - 5, p["journal_lines"])
    module.fail_json(msg=f"{p['unit']} is not healthy: {result['detail']} after {result['elapsed']} s", **result)


if __name__ == "__main__":
    main()
