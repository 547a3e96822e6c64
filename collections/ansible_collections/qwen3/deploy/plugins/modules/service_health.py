#!/usr/bin/python
"""Module qwen3.deploy.service_health: wait until a systemd service answers HTTP, or see it crash, fast."""

from __future__ import annotations

DOCUMENTATION = r"""
module: service_health
short_description: Wait for a systemd service to answer its health URL; fail within seconds when it crash-loops
description:
  - Polls the unit with C(systemctl show) and its health URL once a second. Succeeds on the expected HTTP status
    when, with I(port), the listening socket the URL reaches belongs to a process in the unit's cgroup, and, with
    I(identity_url), that URL's JSON holds I(identity_field) = I(identity_value) (the right service, the right
    release). A port held by another process, or a wrong identity, seen on two polls in a row ends the wait.
  - Fails as soon as the service's main process has exited since the wait began (state failed or auto-restart,
    a new main PID after one had run, or more automatic restarts than at the start), instead of waiting out
    the whole timeout while systemd restarts it again and again. The failure carries the journal of the unit's
    first invocation since the wait began (its own log, not the previous process's shutdown), the lines that say
    why first.
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
  port:
    description: The port the unit's own process must hold (0 = do not check who holds it).
    type: int
    default: 0
  identity_url:
    description: URL on the host whose JSON proves which service answers (empty = no identity check).
    type: str
    default: ""
  identity_field:
    description: A JSON key that must appear anywhere in the identity URL's answer with I(identity_value).
    type: str
    default: ""
  identity_value:
    description: The value I(identity_field) must have (a served model name, a version).
    type: str
    default: ""
  identity_key_file:
    description: 0600 file with the bearer key for the identity URL (read on the host; never in arguments or logs).
    type: path
  identity_key_name:
    description: Variable name holding the key in I(identity_key_file) (NAME=value lines); empty = the whole file.
    type: str
    default: ""
"""

RETURN = r"""
healthy: {description: the URL answered with status_code, type: bool, returned: always}
elapsed: {description: seconds waited, type: float, returned: always}
reason:
  description: why the wait ended (healthy, crashed, port_taken, wrong_service, timeout)
  type: str
  returned: always
why: {description: the journal lines that say why the start failed, type: list, returned: on failure}
restarts: {description: automatic restarts seen (NRestarts), type: int, returned: always}
journal: {description: journal lines of the unit since the wait began, type: list, returned: on failure}
"""

import json  # noqa: E402 - modules keep DOCUMENTATION first
import re  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import urllib.error  # noqa: E402
import urllib.parse  # noqa: E402
import urllib.request  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.qwen3.deploy.plugins.module_utils import health_identity, listeners  # noqa: E402

PROPERTIES = ("ActiveState", "SubState", "MainPID", "NRestarts", "ExecMainStatus", "Result", "InvocationID")
# Consecutive polls that must see a wrong holder or identity before the wait gives up (a restart can briefly
# leave the old process of the same unit on the port; that one is ours and never counts).
WRONG_POLLS = 2


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


def http_body(url: str, key: str = "", timeout: float = 5.0) -> str | None:
    """The body of a 200 answer (with the bearer key, when given), else None."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - the unit's own local URL
            return response.read(1 << 20).decode("utf-8", errors="replace")
    except (urllib.error.URLError, OSError, ValueError):
        return None


def read_key(path: str | None, name: str) -> str:
    if not path:
        return ""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    if not name:
        return text.strip()
    match = re.search(rf"^{re.escape(name)}=['\"]?([^'\"\n]*)", text, re.MULTILINE)
    return match.group(1) if match else ""


def journal(unit: str, since_epoch: float, lines: int, run=subprocess.run, invocation: str = "") -> list[str]:
    """The journal of the unit's first invocation since the wait began (``invocation``, its InvocationID): that
    start's own lines, without the previous process's shutdown noise; the lines that say why first, at most
    ``lines``. Without an invocation id, the tail since the wait began (with --since, journalctl's --lines gave the
    first lines after that time on systemd 252, i.e. the old process's shutdown, so the tail is cut here)."""
    since = ["--unit", unit, "--since", f"@{int(since_epoch) - 1}"]
    match = [f"_SYSTEMD_INVOCATION_ID={invocation}"] if invocation else since
    out = run(["journalctl", "--no-pager", "--output", "cat", *match],
              capture_output=True, text=True, check=False).stdout
    if invocation and not out.strip():  # journald kept no invocation field: fall back to the time window
        return journal(unit, since_epoch, lines, run=run)
    return health_identity.why_first(out.splitlines(), lines)


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
         state_of=unit_state, status_of=http_status, holder_of=lambda: None, identity_of=lambda: None) -> dict:
    """Poll until healthy, crashed, timed out, or answered by the wrong process or service.

    ``holder_of()`` describes a foreign process on the unit's port (None: the unit's own, or nobody yet);
    ``identity_of()`` says what is wrong with the identity answer (None: the right service)."""
    started = clock()
    first = state_of(unit)
    seen_pids = {first["MainPID"]} if first["MainPID"] else set()
    invocations = [first["InvocationID"]] if first.get("InvocationID") else []
    wrong_polls = 0  # consecutive polls with a wrong holder or identity
    while True:
        elapsed = round(clock() - started, 1)
        now = state_of(unit)
        if now.get("InvocationID") and now["InvocationID"] not in invocations:
            invocations.append(now["InvocationID"])
        end = {"elapsed": elapsed, "restarts": now["NRestarts"], "state": now, "invocations": invocations}
        holder = holder_of()
        reason = crashed(first, now, seen_pids)
        if reason:
            return {"healthy": False, "reason": "crashed", **end,
                    "detail": reason + (f"; {holder}" if holder else "")}
        if now["MainPID"]:
            seen_pids.add(now["MainPID"])
        healthy = now.get("ActiveState") == "active" and status_of(url) == status_code
        problem = holder or (identity_of() if healthy else None)
        wrong_polls = wrong_polls + 1 if problem else 0
        if wrong_polls >= WRONG_POLLS:
            return {"healthy": False, "reason": "port_taken" if holder else "wrong_service", "detail": problem, **end}
        if healthy and not problem:
            return {"healthy": True, "reason": "healthy", "detail": "", **end}
        if elapsed >= timeout:
            return {"healthy": False, "reason": "timeout",
                    "detail": f"no HTTP {status_code} from {url} within {timeout} s", **end}
        sleep(1.0)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "unit": {"type": "str", "required": True},
            "url": {"type": "str", "required": True},
            "timeout": {"type": "int", "default": 600},
            "status_code": {"type": "int", "default": 200},
            "journal_lines": {"type": "int", "default": 40},
            "port": {"type": "int", "default": 0},
            "identity_url": {"type": "str", "default": ""},
            "identity_field": {"type": "str", "default": ""},
            "identity_value": {"type": "str", "default": ""},
            "identity_key_file": {"type": "path"},
            "identity_key_name": {"type": "str", "default": ""},
        },
        supports_check_mode=True,
    )
    p = module.params
    since = time.time()
    probe_address = urllib.parse.urlsplit(p["url"]).hostname or "127.0.0.1"

    unit_uid = listeners.unit_uids([p["unit"]]).get(p["unit"]) if p["port"] else None

    def holder_of():
        if not p["port"]:
            return None
        entry = health_identity.port_holder(listeners.read_sockets(), p["port"], probe_address, p["unit"], unit_uid)
        return health_identity.describe_holder(entry, p["port"], p["unit"]) if entry else None

    def identity_of():
        if not p["identity_url"]:
            return None
        body = http_body(p["identity_url"], read_key(p["identity_key_file"], p["identity_key_name"]))
        return health_identity.identity_problem(body, p["identity_field"], p["identity_value"], p["identity_url"])

    result = wait(p["unit"], p["url"], p["timeout"], p["status_code"], holder_of=holder_of, identity_of=identity_of)
    result["state"] = json.loads(json.dumps(result["state"]))
    if result["healthy"]:
        module.exit_json(changed=False, **result)
    first_start = (result["invocations"] or [""])[0]
    result["journal"] = journal(p["unit"], since - 5, p["journal_lines"], invocation=first_start)
    result["why"] = health_identity.why_lines(result["journal"])
    if result["why"] and result["reason"] == "crashed":
        result["detail"] += f": {result['why'][-1].strip()}"
    module.fail_json(msg=f"{p['unit']} is not healthy: {result['detail']} after {result['elapsed']} s", **result)


if __name__ == "__main__":
    main()
