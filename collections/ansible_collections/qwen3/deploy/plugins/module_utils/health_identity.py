"""Who answers a health check, and why a start failed: the decisions of the module ``service_health``.

A health URL proves only that *something* answers on the port. ``port_holder`` says which process holds the
listening socket the probe reaches and whether it lives in the unit's cgroup (``listeners`` knows each socket's
unit); ``identity_problem`` checks that the endpoint answers as the right service (vLLM lists the served model
name, Open WebUI reports its version). ``why_first`` orders a failed start's journal so the lines that say why
come before the noise. Standard library only: this runs on the host.
"""

from __future__ import annotations

import json
import re

from ansible_collections.qwen3.deploy.plugins.module_utils import listeners, ports

# Lines that say why a process did not come up (argparse, Python exceptions, bind errors, the loader).
_WHY = re.compile(r"(\berror\b|exception\b|\bfatal\b|unrecognized arguments|address already in use|"
                  r"permission denied|no such file|out of memory|\bkilled\b)", re.IGNORECASE)
_NOT_WHY = re.compile(r"^(Traceback \(most recent call last\)|\s+File \"|\s+\^)")


def port_holder(sockets: list[dict], port: int, probe_address: str, unit: str, unit_uid: int | None = None
                ) -> dict | None:
    """The socket a probe of ``probe_address:port`` reaches when a process outside ``unit`` holds it, else None.
    ``unit_uid`` (the unit's User=) matches a socket whose process could not be inspected."""
    ours = {unit: unit_uid if unit_uid is not None else -1}
    for entry in sockets:
        if entry.get("proto") != "tcp" or entry.get("port") != port:
            continue
        try:
            reached = ports.overlap(entry["address"], probe_address)
        except ValueError:
            reached = True
        if reached and not listeners.belongs_to(entry, ours):
            return entry
    return None


def describe_holder(entry: dict, port: int, unit: str) -> str:
    return (f"port {port} is held by {listeners.owner_detail(entry)}, not by a process of {unit}: what answers "
            f"there is not {unit}")


def _found(tree, field: str, value: str) -> bool:
    if isinstance(tree, dict):
        if str(tree.get(field, "\0")) == value:
            return True
        return any(_found(item, field, value) for item in tree.values())
    if isinstance(tree, list):
        return any(_found(item, field, value) for item in tree)
    return False


def identity_problem(body: str | None, field: str, value: str, url: str) -> str | None:
    """None when ``url`` answered JSON holding ``field: value`` anywhere, else what was wrong."""
    if body is None:
        return f"{url} did not answer 200"
    try:
        tree = json.loads(body)
    except ValueError:
        return f"{url} did not answer JSON"
    if _found(tree, field, value):
        return None
    return f"{url} answered, but with no {field} {value!r}: another service answers on this port"


def why_lines(lines: list[str]) -> list[str]:
    """The lines that say why, once each, in order."""
    why: list[str] = []
    for line in lines:
        if _WHY.search(line) and not _NOT_WHY.match(line) and line not in why:
            why.append(line)
    return why


def why_first(lines: list[str], limit: int) -> list[str]:
    """At most ``limit`` lines: those that say why (at most a third of the room), then the tail of the rest."""
    why = why_lines(lines)
    why = why[-max(1, limit // 3):] if why else []
    rest = [line for line in lines if line not in why]
    room = limit - len(why) - (1 if why else 0)
    tail = rest[-room:] if room > 0 else []
    return why + (["..."] if why and tail else []) + tail
