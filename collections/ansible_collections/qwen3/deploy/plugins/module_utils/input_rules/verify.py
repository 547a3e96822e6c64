"""Input rules of role verify (see module_utils/inputs.py)."""

import re

from ansible_collections.qwen3.deploy.plugins.module_utils import input_checks as c
from ansible_collections.qwen3.deploy.plugins.module_utils.verify_thresholds import THRESHOLD_KEYS


def _thresholds(value, _values, _profile):
    if not isinstance(value, dict):
        return "must be a mapping of threshold name to limit"
    for key, limit in value.items():
        if key not in THRESHOLD_KEYS:
            return f"{key}: unknown threshold; known: {', '.join(sorted(THRESHOLD_KEYS))}"
        if key == "thinking_allowed":
            if not isinstance(limit, bool):
                return f"{key}: must be true or false"
        elif limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, float)) or limit < 0):
            return f"{key}: must be a number >= 0 (or null to switch it off), got {limit!r}"
        elif key == "max_error_rate" and limit is not None and limit > 1:
            return f"{key}: must be in [0, 1], got {limit}"
    return None


def _time_limit(value, values, profile):
    message = c.int_range(10, 86400)(value, values, profile)
    if message:
        return message
    per_request = values.get("verify_request_timeout")
    if isinstance(per_request, int) and not isinstance(per_request, bool) and value < per_request:
        return f"{value} s is less than one request may take (verify_request_timeout {per_request} s)"
    return None


def _run_id(value, _values, _profile):
    if value in ("", None):
        return None
    if not isinstance(value, str) or not re.match(r"^[A-Za-z0-9._-]{1,64}$", value):
        return "must be a directory name (letters, digits, . _ -)"
    return None


def _listener_rule(rule, _values, _profile):
    if not isinstance(rule, dict):
        return "must be a mapping"
    unknown = set(rule) - {"address", "port", "proto", "unit"}
    if unknown:
        return f"unknown keys {sorted(unknown)} (use address, port, proto or unit)"
    if "unit" in rule:
        unit = rule["unit"]
        ok = isinstance(unit, str) and re.match(r"^[A-Za-z0-9:_.@-]+\.(service|socket|scope)$", unit)
        return None if ok else f"unit must be a systemd service, socket or scope name, got {unit!r}"
    if rule.get("proto", "tcp") not in ("tcp", "udp"):
        return "proto must be tcp or udp"
    if rule.get("address") not in ("", None):
        message = c.bind_address(rule["address"], {}, None)
        if message:
            return message
    return c.port(rule.get("port"), {}, None)


def _prompt(value, values, profile):
    return c.nonempty(value, values, profile) or c.text_line(value, values, profile)


def _chromium(value, values, profile):
    import os  # noqa: PLC0415 - only this rule reads the controller's disk

    problem = c.abs_path(value, values, profile)
    if problem or "browser" not in (values.get("verify_webui_paths") or []):
        return problem
    if not os.access(value, os.X_OK) or os.path.isdir(value):
        return (f"{value} is not an executable on the controller; install Debian's chromium there or drop "
                "'browser' from verify_webui_paths")
    return None


RULES = {
    "verify_requests": c.int_range(1, 10000),
    "verify_warmup": c.int_range(0, 100),
    "verify_max_tokens": c.int_range(1, 1000000),
    "verify_prompt": _prompt,
    "verify_request_timeout": c.int_range(1, 3600),
    "verify_time_limit": _time_limit,
    "verify_thresholds": _thresholds,
    "verify_webui_enabled": c.ok,
    "verify_webui_paths": c.each(c.one_of("webui", "webui-socket", "browser"), kind="path name"),
    "verify_webui_params": c.mapping_of_scalars,
    "verify_report_dir": c.abs_path,
    "verify_run_id": _run_id,
    "verify_fail_on_threshold": c.ok,
    "verify_listeners_check": c.ok,
    "verify_allowed_listeners": c.each(_listener_rule, kind="rule"),
    "verify_browser_requests": c.int_range(1, 1000),
    "verify_browser_warmup": c.int_range(0, 10),
    "verify_browser_chromium": _chromium,
    "verify_browser_via_proxy": c.ok,
    "verify_fleet_concurrency": c.each(c.int_range(1, 1024), kind="concurrency"),
    "verify_fleet_requests_per_step": c.int_range(1, 100000),
    "verify_fleet_input_len": c.int_range(1, 1000000),
    "verify_fleet_output_len": c.int_range(1, 1000000),
    "verify_fleet_bench_host": c.optional(c.word),
    "verify_fleet_step_timeout": c.int_range(10, 86400),
    "verify_fleet_fail_on_errors": c.ok,
}
