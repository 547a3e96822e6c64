"""A fleet behind vllm-router: worker URLs, the router's command line, firewall address sets, fleet checks.

Pure functions, used by the filters in plugins/filter/fleet.py and by the input rules of llm_router and
host_firewall; unit-tested in tests/unit/test_fleet.py.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.qwen3.deploy.plugins.module_utils import systemd

WORKERS_ENV = "QWEN3_ROUTER_WORKERS"
POLICY_ENV = "QWEN3_ROUTER_POLICY"
# Flags the role sets from its own variables: llm_router_extra_args may not set them.
OWNED_FLAGS = {
    "host": "llm_router_host",
    "port": "llm_router_port",
    "worker-urls": "the inventory (llm_router_worker_group)",
    "policy": "llm_router_policy (the unit takes it from its EnvironmentFile)",
    "prometheus-host": "the role (127.0.0.1)",
    "prometheus-port": "llm_router_metrics_port",
    "api-key": "nothing: clients' keys pass through to the engines",
}
_FLAG = re.compile(r"^[a-z0-9][a-z0-9-]*$")


class FleetError(ValueError):
    """A fleet setting that cannot work."""


def url_host(address: str) -> str:
    """An address as it goes into a URL (IPv6 in brackets)."""
    return f"[{address}]" if ":" in address and not address.startswith("[") else address


def worker_url(address: str, port: int) -> str:
    return f"http://{url_host(str(address))}:{int(port)}"


def workers(hosts: list[str], facts: dict[str, dict], addresses: dict[str, str]) -> dict[str, str]:
    """{inventory host: worker URL}. ``facts[host]`` holds ``default_ipv4`` (Ansible facts) and ``port``
    (the engine's published port)."""
    out = {}
    for host in hosts:
        info = facts.get(host) or {}
        address = addresses.get(host) or (info.get("default_ipv4") or {}).get("address")
        if not address:
            raise FleetError(f"no address for worker {host}: gather its facts or set "
                             f"llm_router_worker_addresses.{host}")
        if not info.get("port"):
            raise FleetError(f"worker {host} publishes no engine port (qwen3_engine): include its engine's "
                             "publish tasks")
        out[host] = worker_url(address, info["port"])
    return out


def router_argv(venv: str, args: dict, extra_args: dict) -> list[str]:
    """``vllm-router`` and its flags (without --worker-urls, which the unit takes from its EnvironmentFile)."""
    merged = {k: v for k, v in args.items() if k != "policy"}
    for name, value in (extra_args or {}).items():
        if name in OWNED_FLAGS:
            raise FleetError(f"--{name} is set from {OWNED_FLAGS[name]}, not llm_router_extra_args")
        if not isinstance(name, str) or not _FLAG.match(name):
            raise FleetError(f"{name!r} is not a flag name (lowercase, digits and '-', no leading dashes)")
        merged[name] = value
    argv = [f"{venv}/bin/vllm-router"]
    for name, value in merged.items():
        if value is None or value is False:
            continue
        argv.append(f"--{name}")
        if value is not True:
            if isinstance(value, (dict, list)):
                raise FleetError(f"--{name}: give one value, not {type(value).__name__}")
            if "\n" in str(value) or "\r" in str(value):
                raise FleetError(f"{name}: the value may not contain a newline (a unit file value is one line)")
            argv.append(str(value))
    return argv


def router_exec_start(venv: str, args: dict, extra_args: dict) -> str:
    """ExecStart=: the flags, then the policy and workers from the EnvironmentFile (systemd splits an unquoted
    ``$VAR`` into words): ``--policy ${QWEN3_ROUTER_POLICY} --worker-urls $QWEN3_ROUTER_WORKERS``."""
    return (systemd.exec_line(router_argv(venv, args, extra_args))
            + f" --policy ${{{POLICY_ENV}}} --worker-urls ${WORKERS_ENV}")


def split_families(addresses: list[str]) -> dict[str, list[str]]:
    """{"v4": [...], "v6": [...]}: literal addresses or networks, each family apart (nft sets are typed);
    link-local and duplicate entries dropped."""
    out: dict[str, list[str]] = {"v4": [], "v6": []}
    for item in addresses:
        text = str(item).split("%", 1)[0]
        network = ipaddress.ip_network(text, strict=False)
        if network.version == 6 and network.is_link_local:
            continue
        literal = str(network.network_address) if network.num_addresses == 1 else str(network)
        key = "v4" if network.version == 4 else "v6"
        if literal not in out[key]:
            out[key].append(literal)
    return out


def host_addresses(facts: dict) -> list[str]:
    """Every address an Ansible-facts dict lists (IPv4 and IPv6), loopback excluded."""
    found = list(facts.get("all_ipv4_addresses") or []) + list(facts.get("all_ipv6_addresses") or [])
    return [a for a in found if not ipaddress.ip_address(a.split("%", 1)[0]).is_loopback]


def model_problems(engines: dict[str, dict]) -> list[str]:
    """Why these engines cannot be one fleet: another engine than vLLM, or more than one served model name.
    ``engines[host]`` holds ``engine``, ``served_model_name`` and ``profile`` (the resolved ``llm``)."""
    problems = []
    not_vllm = sorted(h for h, e in engines.items() if e.get("engine") != "vllm")
    if not_vllm:
        listing = ", ".join(f"{h} ({engines[h].get('profile')}: {engines[h].get('engine')})" for h in not_vllm)
        problems.append("a fleet behind llm_routers serves vLLM profiles only (Ollama has no API key and no health "
                        f"endpoint of its own): {listing}")
    names: dict[str, list[str]] = {}
    for host, engine in sorted(engines.items()):
        names.setdefault(str(engine.get("served_model_name")), []).append(host)
    if len(names) > 1:
        listing = "; ".join(f"{name!r} on {', '.join(hosts)}" for name, hosts in sorted(names.items()))
        problems.append(f"the engines behind one router must serve the same model name: {listing}")
    return problems
