#!/usr/bin/python
"""Module qwen3.deploy.port_check: can this project's services bind their ports on this host? Changes nothing."""

from __future__ import annotations

DOCUMENTATION = r"""
module: port_check
short_description: Refuse two of our services on one (address, port), and a port a foreign process already holds
description:
  - Resolves each binding's address on the host (a host name may stand for several addresses), then reports two
    bindings whose (address, port) overlap (C(0.0.0.0) covers every IPv4 address; C(::) every IPv6 address and,
    with net.ipv6.bindv6only=0, every IPv4 address too) and a binding whose port a process outside I(units)
    already listens on, naming that process, its pid and unit. Changes nothing; runs in check mode.
options:
  plan:
    description: Bindings from the lookup qwen3.deploy.port_plan, each C({option, address_option, address, port, unit}).
    type: list
    elements: dict
    required: true
  units:
    description: The systemd units of this project's services; their own listeners are not foreign.
    type: list
    elements: str
    default: []
"""

RETURN = r"""
problems:
  description: one message per collision or foreign holder, each starting with the variable
  type: list
  returned: always
plan: {description: the bindings with the addresses they resolved to, type: list, returned: always}
"""

import socket  # noqa: E402 - modules keep DOCUMENTATION first

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.qwen3.deploy.plugins.module_utils import listeners, ports  # noqa: E402


def resolve(address: str) -> list[str]:
    """The IP addresses a bind address stands for on this host (a literal stands for itself)."""
    try:
        infos = socket.getaddrinfo(address, None, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        return []
    return sorted({info[4][0].split("%")[0] for info in infos})


def bindv6only() -> bool:
    try:
        with open("/proc/sys/net/ipv6/bindv6only", encoding="utf-8") as handle:
            return handle.read().strip() == "1"
    except OSError:
        return False


def main() -> None:
    module = AnsibleModule(
        argument_spec={"plan": {"type": "list", "elements": "dict", "required": True},
                       "units": {"type": "list", "elements": "str", "default": []}},
        supports_check_mode=True,
    )
    plan, problems = [], []
    for binding in module.params["plan"]:
        resolved = resolve(str(binding["address"]))
        if not resolved:
            name = binding.get("address_option") or binding["option"]
            problems.append(f"{name}: {binding['address']!r} does not resolve to an address on this host")
            continue
        plan.append({**binding, "port": int(binding["port"]), "resolved": resolved})
    v6only = bindv6only()
    problems += ports.collisions(plan, bindv6only=v6only)
    ours = listeners.unit_uids(module.params["units"])
    problems += ports.foreign_holders(plan, listeners.read_sockets(), ours, bindv6only=v6only)
    module.exit_json(changed=False, problems=problems, plan=plan)


if __name__ == "__main__":
    main()
