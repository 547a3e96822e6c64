"""Input rules of role host_firewall (see module_utils/inputs.py)."""

import ipaddress

from ansible_collections.qwen3.deploy.plugins.module_utils import input_checks as c


def _source(value, _values, _profile):
    """A literal address or network: nft would try DNS for a name (and a name can change under the rule)."""
    try:
        ipaddress.ip_network(str(value).split("%", 1)[0], strict=False)
    except ValueError:
        return f"{value!r} is not an IP address or network (no host names)"
    return None


def _ports(value, values, profile):
    return c.each(c.port, kind="port")(value, values, profile)


def _checks(values, _profile):
    public = set(values.get("host_firewall_public_tcp_ports") or [])
    restricted = set(values.get("host_firewall_restricted_tcp_ports") or []) | set(
        values.get("host_firewall_service_tcp_ports") or [])
    both = sorted(public & restricted)
    if both:
        return [f"host_firewall_public_tcp_ports: {both} also restricted; a port is either public or restricted"]
    return []


RULES = {
    "host_firewall_public_tcp_ports": _ports,
    "host_firewall_restricted_tcp_ports": _ports,
    "host_firewall_service_tcp_ports": _ports,
    "host_firewall_restricted_sources": c.each(_source, kind="address"),
    "host_firewall_router_sources": c.each(_source, kind="address"),
    "host_firewall_reject_other": c.ok,
    "host_firewall_unit_name": c.unit_name,
}
CHECKS = [_checks]
