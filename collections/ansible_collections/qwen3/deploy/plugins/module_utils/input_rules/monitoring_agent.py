"""Input rules of role monitoring_agent (see module_utils/inputs.py)."""

import re

from ansible_collections.qwen3.deploy.plugins.module_utils import input_checks as c

PATHS = ("engine", "webui", "webui-socket")  # module_utils/monitoring/alerts.py CANARY_PATHS, the host tool's PATHS
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")  # Open WebUI 0.12.4 utils/misc.py validate_email_format (and @localhost)


def _paths(value, _values, _profile):
    if not isinstance(value, list) or any(path not in PATHS for path in value) or len(set(value)) != len(value):
        return f"must be a list of distinct canary paths out of {', '.join(PATHS)} (empty: every path the host serves)"
    return None


def _email(value, _values, _profile):
    if not isinstance(value, str) or not _EMAIL.match(value) or not (value.endswith("@localhost") or "." in
                                                                         value.split("@")[1]):
        return "must be an e-mail address Open WebUI accepts (name@domain.tld or name@localhost)"
    return None


def _alert_name(value, _values, _profile):
    if value in ("", None):
        return None
    if not isinstance(value, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$", value):
        return "must be an alert name such as CanaryStale, or empty"
    return None


RULES = {
    "monitoring_agent_enabled": c.ok,
    "monitoring_agent_node_exporter_host": c.bind_address,
    "monitoring_agent_node_exporter_port": c.port,
    "monitoring_agent_textfile_dir": c.abs_path,
    "monitoring_agent_canary_enabled": c.ok,
    "monitoring_agent_canary_interval": c.int_range(10, 3600),
    "monitoring_agent_canary_max_tokens": c.int_range(1, 256),
    "monitoring_agent_canary_paths": _paths,
    "monitoring_agent_canary_email": _email,
    "monitoring_agent_gpu_metrics_enabled": c.ok,
    "monitoring_agent_gpu_metrics_interval": c.int_range(5, 3600),
    "monitoring_agent_nvidia_smi": c.abs_path,
    "monitoring_agent_nginx_exporter_port": c.port,
    "monitoring_agent_pause_minutes": c.int_range(1, 1440),
    "monitoring_agent_pause_reason": c.text_line,
    "monitoring_agent_pause_alert": _alert_name,
}
