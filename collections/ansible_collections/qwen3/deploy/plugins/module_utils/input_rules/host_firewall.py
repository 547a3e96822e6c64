"""Input rules of role host_firewall (see module_utils/inputs.py)."""

from ansible_collections.qwen3.deploy.plugins.module_utils import input_checks as c


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
    "host_firewall_restricted_sources": c.each(c.ip_network, kind="address"),
    "host_firewall_router_sources": c.each(c.ip_network, kind="address"),
    "host_firewall_reject_other": c.ok,
    "host_firewall_unit_name": c.unit_name,
}
CHECKS = [_checks]
