"""Every option that makes one of our services bind a port, and the two checks preflight runs on them.

``REGISTRY`` is the one list of such options (an architecture test fails when a role gains a port option that is
not in it). ``bindings`` turns a host's values into what will listen there; ``collisions`` finds two of our
services whose (address, port) overlap; ``foreign_holders`` finds a configured port that a process outside our
units already holds. Overlap follows Linux: ``0.0.0.0`` covers every IPv4 address, ``::`` covers every IPv6 address
and, with ``net.ipv6.bindv6only=0`` (the default), every IPv4 address too. Standard library only: the module
``port_check`` runs this on the host, where host names resolve as the services will resolve them.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from ansible_collections.qwen3.deploy.plugins.module_utils import listeners

# What runs where: an engine host runs its profile's engine, and Open WebUI (+ nginx) unless switched off; a router
# host runs the router, and Open WebUI (+ nginx) in front of it.
# Monitoring: node exporter on every host; Prometheus, Alertmanager and the blackbox exporter only on the monitoring
# host (kind "monitoring": llm_monitoring, else a fleet's first router, else each engine host), so a fleet engine
# with something of the operator's on 9090 is not refused for a Prometheus that will never run there.
SERVICES_OF = {"server": ("engine", "open_webui", "webui_proxy", "monitoring_agent"),
               "router": ("router", "open_webui", "webui_proxy", "monitoring_agent"),
               "monitoring": ("monitoring_server",)}


@dataclass(frozen=True)
class PortOption:
    option: str  # the variable the user writes: a port, or HOST:PORT
    role: str  # the role whose argument spec has it
    service: str  # engine (per profile), open_webui, webui_proxy, router
    address_option: str = ""  # the variable holding the bind address, if separate
    fixed_address: str = ""  # the address when the role fixes it
    unit_option: str = ""  # the variable naming the unit that holds the port
    unit: str = ""  # the unit, when the role fixes its name
    engine: str = ""  # for service "engine": the profile engine that binds it


REGISTRY = (
    PortOption("vllm_service_port", "vllm_service", "engine", address_option="vllm_service_host",
               unit_option="vllm_service_unit_name", engine="vllm"),
    PortOption("ollama_service_host", "ollama_service", "engine", unit="ollama.service", engine="ollama"),
    PortOption("open_webui_port", "open_webui", "open_webui", address_option="open_webui_host",
               unit="qwen3-open-webui.service"),
    PortOption("webui_proxy_port", "webui_proxy", "webui_proxy", address_option="webui_proxy_host",
               unit="nginx.service"),
    PortOption("llm_router_port", "llm_router", "router", address_option="llm_router_host",
               unit_option="llm_router_unit_name"),
    PortOption("llm_router_metrics_port", "llm_router", "router", fixed_address="127.0.0.1",
               unit_option="llm_router_unit_name"),
    PortOption("webui_proxy_status_port", "webui_proxy", "webui_proxy", fixed_address="127.0.0.1",
               unit="nginx.service"),
    PortOption("monitoring_agent_nginx_exporter_port", "monitoring_agent", "monitoring_agent",
               address_option="monitoring_agent_node_exporter_host", unit="prometheus-nginx-exporter.service"),
    PortOption("monitoring_agent_node_exporter_port", "monitoring_agent", "monitoring_agent",
               address_option="monitoring_agent_node_exporter_host", unit="prometheus-node-exporter.service"),
    PortOption("monitoring_server_prometheus_port", "monitoring_server", "monitoring_server",
               address_option="monitoring_server_prometheus_host", unit="prometheus.service"),
    PortOption("monitoring_server_alertmanager_port", "monitoring_server", "monitoring_server",
               address_option="monitoring_server_alertmanager_host", unit="prometheus-alertmanager.service"),
    PortOption("monitoring_server_blackbox_port", "monitoring_server", "monitoring_server", fixed_address="127.0.0.1",
               unit="prometheus-blackbox-exporter.service"),
)

# Role options named like ports that bind nothing themselves (the architecture test reads this with REGISTRY).
NOT_BINDING = {
    "host_firewall_public_tcp_ports": "firewall rules for ports other options bind",
    "host_firewall_restricted_tcp_ports": "firewall rules for ports other options bind",
    "host_firewall_service_tcp_ports": "firewall rules for ports other options bind",
    "service_release_health_port": "the port a rollback checks, passed in by the role that owns it",
}

# Variables whose values decide which services a host runs (read with the registry's options).
GATES = {"open_webui": ("open_webui_enabled",), "webui_proxy": ("open_webui_enabled", "webui_proxy_enabled"),
         "monitoring_agent": ("monitoring_agent_enabled",),
         "monitoring_server": ("monitoring_agent_enabled", "monitoring_server_enabled")}


def option_names() -> list[str]:
    """Every variable ``bindings`` reads: ports, addresses, unit names and gates."""
    names = []
    for entry in REGISTRY:
        names += [n for n in (entry.option, entry.address_option, entry.unit_option) if n]
    for gate in GATES.values():
        names += gate
    return list(dict.fromkeys(names))


def role_of(name: str) -> str:
    """The role whose variable ``name`` is (by the registry, else by its prefix)."""
    for entry in REGISTRY:
        if name in (entry.option, entry.address_option, entry.unit_option):
            return entry.role
    return re.sub(r"_enabled$", "", name)


def _truthy(value) -> bool:
    return value is True or str(value).strip().lower() in ("true", "yes", "on", "1")


def _split_host_port(value: str) -> tuple[str, int]:
    match = re.match(r"^\[([^\]]+)\]:([0-9]+)$", value) or re.match(r"^([^:]+):([0-9]+)$", value)
    if not match:
        raise ValueError(f"{value!r} is not HOST:PORT")
    return match.group(1), int(match.group(2))


def bindings(values: dict, *, engine: str, kinds: list[str]) -> list[dict]:
    """What will listen on one host: ``[{option, address_option, address, port, unit, service}]``.

    ``values`` holds the variables of ``option_names()`` as the host resolves them; ``engine`` is the profile's
    (vllm, ollama); ``kinds`` says what the host is
    (server, router, monitoring). Values that fail their own input rules are
    left out: preflight reports those under their own names.
    """
    wanted = {service for kind in kinds for service in SERVICES_OF[kind]}
    out = []
    for entry in REGISTRY:
        if entry.service not in wanted or (entry.engine and entry.engine != engine):
            continue
        if not all(_truthy(values.get(gate, True)) for gate in GATES.get(entry.service, ())):
            continue
        try:
            if entry.address_option or entry.fixed_address:
                address = entry.fixed_address or str(values[entry.address_option])
                port = int(values[entry.option])
            else:
                address, port = _split_host_port(str(values[entry.option]))
        except (KeyError, TypeError, ValueError):
            continue
        unit = entry.unit or str(values.get(entry.unit_option) or "")
        out.append({"option": entry.option, "address_option": entry.address_option, "address": address,
                    "port": port, "unit": unit, "service": entry.service})
    return out


def _network(address: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if str(ip) == "0.0.0.0":  # noqa: S104 - naming the wildcard, not binding it
        return ipaddress.ip_network("0.0.0.0/0")
    if str(ip) == "::":
        return ipaddress.ip_network("::/0")
    return ipaddress.ip_network(ip)


def overlap(first: str, second: str, *, bindv6only: bool = False) -> bool:
    """Two bind addresses (IP literals) that cannot both hold one port."""
    a, b = _network(first), _network(second)
    if a.version == b.version:
        return a.overlaps(b)
    # A dual-stack IPv6 wildcard also holds the port on every IPv4 address.
    six = a if a.version == 6 else b
    return not bindv6only and six.prefixlen == 0


def _shown(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def _where(binding: dict) -> str:
    resolved = binding.get("resolved") or [binding["address"]]
    named = binding["address"] if resolved == [binding["address"]] else f"{binding['address']} ({', '.join(resolved)})"
    via = f" on {binding['address_option']} {named}" if binding.get("address_option") else f" on {named}"
    return f"{binding['port']}{via}"


def collisions(plan: list[dict], *, bindv6only: bool = False) -> list[str]:
    """Two of our services on one (address, port), each message naming both variables."""
    problems = []
    for index, first in enumerate(plan):
        for second in plan[index + 1:]:
            if first["port"] != second["port"]:
                continue
            if any(overlap(a, b, bindv6only=bindv6only)
                   for a in first.get("resolved") or [first["address"]]
                   for b in second.get("resolved") or [second["address"]]):
                problems.append(
                    f"{first['option']}: port {_where(first)} collides with {second['option']} "
                    f"(port {_where(second)}): {first['unit']} and {second['unit']} cannot both listen there; "
                    "give one of them another port")
    return problems


def foreign_holders(plan: list[dict], sockets: list[dict], our_units: dict[str, int], *,
                    bindv6only: bool = False) -> list[str]:
    """A configured port that a process outside our units ({unit: uid}) already listens on (TCP), naming it."""
    problems = []
    for binding in plan:
        for entry in sockets:
            if entry.get("proto") != "tcp" or entry.get("port") != binding["port"]:
                continue
            if listeners.belongs_to(entry, our_units):
                continue
            if not any(overlap(address, entry["address"], bindv6only=bindv6only)
                       for address in binding.get("resolved") or [binding["address"]]):
                continue
            problems.append(
                f"{binding['option']}: port {_where(binding)} is already held on this host by "
                f"{listeners.owner_detail(entry)}, listening on {_shown(entry['address'])}:{entry['port']}, not by one "
                f"of this project's services: {binding['unit']} could not bind it; choose another port or stop "
                f"{listeners.owner_name(entry)}")
            break
    return problems
