#!/usr/bin/python
"""Module qwen3.deploy.listeners: what listens on the network, and what of it the allow-list does not cover."""

from __future__ import annotations

DOCUMENTATION = r"""
module: listeners
short_description: List listening TCP and bound UDP sockets (IPv4 and IPv6) with their systemd unit; check an allow-list
description:
  - Reads /proc/net/tcp, tcp6, udp and udp6, finds each socket's process and systemd unit, and reports the sockets
    reachable from the network (any address but loopback) that no rule in I(allowed) covers. Changes nothing.
options:
  allowed:
    description:
      - Rules, each C({address, port, proto}) (address empty = any, a wildcard covers both families) or C({unit}).
    type: list
    elements: dict
    default: []
"""

RETURN = r"""
sockets: {description: every listening socket, type: list, returned: always}
violations: {description: reachable sockets no rule allows, type: list, returned: always}
violation_lines: {description: one readable line per violation, type: list, returned: always}
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402 - modules keep DOCUMENTATION first
from ansible_collections.qwen3.deploy.plugins.module_utils import listeners  # noqa: E402


def main() -> None:
    module = AnsibleModule(argument_spec={"allowed": {"type": "list", "elements": "dict", "default": []}},
                           supports_check_mode=True)
    sockets = listeners.read_sockets()
    bad = listeners.violations(sockets, module.params["allowed"])
    module.exit_json(changed=False, sockets=sockets, violations=bad,
                     violation_lines=[listeners.describe(entry) for entry in bad])


if __name__ == "__main__":
    main()
