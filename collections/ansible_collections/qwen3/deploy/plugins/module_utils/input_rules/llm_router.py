"""Input rules of role llm_router (see module_utils/inputs.py)."""

import ipaddress
import re

from ansible_collections.qwen3.deploy.plugins.module_utils import fleet
from ansible_collections.qwen3.deploy.plugins.module_utils import input_checks as c


def _router_host(value, values, profile):
    """Loopback or a private address: the router's worker admin endpoints have no authentication."""
    message = c.bind_address(value, values, profile)
    if message:
        return message
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return f"{value!r} must be an IP address (loopback or private), not a host name"
    if address.is_unspecified:
        return (f"{value} binds every address; the router's admin endpoints have no auth: use loopback or a "
                "private address")
    if not (address.is_loopback or address.is_private):
        return f"{value} is not loopback or private; the router's admin endpoints (remove_worker) have no auth"
    return None


def _addresses(value, _values, _profile):
    if not isinstance(value, dict):
        return "must be a mapping of inventory host name: address"
    for host, address in value.items():
        try:
            ipaddress.ip_address(str(address))
        except ValueError:
            return f"{host}: {address!r} is not an IP address"
    return None


def _extra_args(value, _values, _profile):
    if not isinstance(value, dict):
        return "must be a mapping of flag name: value"
    try:
        fleet.router_argv("/venv", {}, value)
    except fleet.FleetError as error:
        return str(error)
    return None


def _serial(value, _values, _profile):
    if isinstance(value, int) and not isinstance(value, bool):
        return None if value >= 1 else f"must be >= 1, got {value}"
    if isinstance(value, str) and re.fullmatch(r"([1-9][0-9]?|100)%", value):
        return None
    return f"must be a count >= 1 or a percentage like '25%', got {value!r}"


def _group(value, _values, _profile):
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        return f"must be an inventory group name, got {value!r}"
    return None


RULES = {
    "llm_router_version": c.version,
    "llm_router_venv": c.abs_path,
    "llm_router_python": c.abs_path,
    "llm_router_pip_extra_args": c.text_line,
    "llm_router_host": _router_host,
    "llm_router_port": c.port,
    "llm_router_policy": c.ok,
    "llm_router_worker_group": _group,
    "llm_router_worker_addresses": _addresses,
    "llm_router_health_check_interval": c.int_range(1, 600),
    "llm_router_health_failure_threshold": c.int_range(1, 100),
    "llm_router_health_success_threshold": c.int_range(1, 100),
    "llm_router_health_check_timeout": c.int_range(1, 600),
    "llm_router_cb_failure_threshold": c.int_range(1, 1000),
    "llm_router_cb_timeout": c.int_range(1, 3600),
    "llm_router_retry_max_retries": c.int_range(0, 20),
    "llm_router_request_timeout": c.int_range(10, 86400),
    "llm_router_worker_startup_timeout": c.int_range(5, 3600),
    "llm_router_worker_startup_check_interval": c.int_range(1, 600),
    "llm_router_metrics_port": c.port,
    "llm_router_extra_args": _extra_args,
    "llm_router_drain_timeout": c.int_range(0, 86400),
    "llm_router_check_requests": c.int_range(0, 100),
    "llm_router_rollout_serial": _serial,
    "llm_router_client_api_key": c.secret(min_length=8, required=False),
    "llm_router_user": c.system_name,
    "llm_router_state_dir": c.abs_path,
    "llm_router_unit_name": c.unit_name,
    "llm_router_stop_timeout": c.int_range(1, 86400),
    "llm_router_health_timeout": c.int_range(5, 3600),
}


def _checks(values, _profile):
    problems = []
    if values.get("llm_router_port") == values.get("llm_router_metrics_port"):
        problems.append("llm_router_metrics_port: must differ from llm_router_port")
    interval, timeout = values.get("llm_router_health_check_interval"), values.get("llm_router_health_check_timeout")
    if isinstance(interval, int) and isinstance(timeout, int) and timeout > interval:
        problems.append(f"llm_router_health_check_timeout: {timeout} s is longer than the interval ({interval} s)")
    return problems


CHECKS = [_checks]
