"""Filters for a fleet behind vllm-router (roles llm_router, host_firewall; playbooks/fleet*.yml).
The logic lives in module_utils/fleet.py.

    {{ groups['llm_servers'] | qwen3.deploy.fleet_workers(hostvars, llm_router_worker_addresses) }}
        -> {host: "http://10.0.0.11:8000"}   (address: the mapping, else the host's default IPv4; port: qwen3_engine)
    {{ venv | qwen3.deploy.router_exec_start(args, extra_args) }}   -> ExecStart= value
    {{ groups['llm_routers'] | qwen3.deploy.fleet_addresses(hostvars) }} -> every non-loopback address of those hosts
    {{ addresses | qwen3.deploy.ip_families }}                        -> {"v4": [...], "v6": [...]}
    {{ groups['llm_servers'] | qwen3.deploy.fleet_problems(hostvars) }} -> why they cannot be one fleet ([] = fine)
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.qwen3.deploy.plugins.module_utils import fleet
from ansible_collections.qwen3.deploy.plugins.module_utils.plain import plain as _plain


def _host(hostvars, host: str, name: str, default=None):
    try:
        value = hostvars[host].get(name, default)
    except KeyError:
        return default
    return _plain(value)


def fleet_workers(hosts, hostvars, addresses=None):
    facts = {}
    for host in hosts:
        engine = _host(hostvars, host, "qwen3_engine") or {}
        ansible_facts = _host(hostvars, host, "ansible_facts") or {}
        facts[host] = {"default_ipv4": ansible_facts.get("default_ipv4") or {}, "port": engine.get("port")}
    try:
        return fleet.workers(list(hosts), facts, _plain(addresses or {}))
    except fleet.FleetError as error:
        raise AnsibleFilterError(str(error)) from None


def router_exec_start(venv, args, extra_args=None):
    try:
        return fleet.router_exec_start(str(venv), _plain(args), _plain(extra_args or {}))
    except (fleet.FleetError, ValueError) as error:
        raise AnsibleFilterError(str(error)) from None


def fleet_addresses(hosts, hostvars):
    found = []
    for host in hosts:
        for address in fleet.host_addresses(_host(hostvars, host, "ansible_facts") or {}):
            if address not in found:
                found.append(address)
    return found


def ip_families(addresses):
    try:
        return fleet.split_families(_plain(addresses))
    except ValueError as error:
        raise AnsibleFilterError(f"not an IP address or network: {error}") from None


def fleet_problems(hosts, hostvars):
    engines = {}
    for host in hosts:
        llm = _host(hostvars, host, "llm") or {}
        engines[host] = {"engine": llm.get("engine"), "served_model_name": llm.get("served_model_name"),
                         "profile": llm.get("name")}
    return fleet.model_problems(engines)


class FilterModule:
    def filters(self):
        return {
            "fleet_workers": fleet_workers,
            "router_exec_start": router_exec_start,
            "fleet_addresses": fleet_addresses,
            "ip_families": ip_families,
            "fleet_problems": fleet_problems,
        }
