"""Input rules of role monitoring_server (see module_utils/inputs.py)."""

import re

from ansible_collections.qwen3.deploy.plugins.module_utils import input_checks as c

_DURATION = re.compile(r"^[0-9]+(ms|s|m|h|d|w|y)$")  # Prometheus' duration (model.ParseDuration), one unit
_SIZE = re.compile(r"^[0-9]+(B|KB|MB|GB|TB|PB|EB)$")  # --storage.tsdb.retention.size (units.Base2Bytes)
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _duration(value, _values, _profile):
    if not isinstance(value, str) or not _DURATION.match(value):
        return "must be a Prometheus duration such as 15d, 12h or 30m"
    return None


def _size(value, _values, _profile):
    if not isinstance(value, str) or not _SIZE.match(value):
        return "must be a size such as 5GB or 512MB"
    return None


def _loopback_only(value, values, profile):
    message = c.bind_address(value, values, profile)
    if message:
        return message
    if value not in LOOPBACK:
        # Opening Prometheus or Alertmanager needs TLS and basic auth in front (web.config.file): not built yet.
        return ("must be a loopback address: this release serves Prometheus and Alertmanager on loopback only "
                "(reach them through SSH port forwarding)")
    return None


def _receivers(value, _values, _profile):
    if not isinstance(value, list):
        return "must be a list of {name, url} webhook receivers"
    names = []
    for index, item in enumerate(value):
        if not isinstance(item, dict) or set(item) != {"name", "url"}:
            return f"item {index}: must be a mapping with exactly name and url"
        if not isinstance(item["name"], str) or not _NAME.match(item["name"]) or item["name"] == "qwen3-null":
            return f"item {index}: name must be letters, digits, '.', '_' or '-' (not qwen3-null)"
        if c.url("http", "https")(item["url"], _values, _profile):
            # the URL itself is never echoed: it may hold a token
            return f"item {index} ({item['name']}): url must be an http or https URL without spaces"
        names.append(item["name"])
    if len(set(names)) != len(names):
        return "receiver names must be distinct"
    return None


def _watchdog(value, values, _profile):
    if value in ("", None):
        return None
    names = [r.get("name") for r in values.get("monitoring_server_webhook_receivers") or [] if isinstance(r, dict)]
    if value not in names:
        return f"{value!r} is not the name of one of monitoring_server_webhook_receivers"
    return None


RULES = {
    "monitoring_server_enabled": c.ok,
    "monitoring_server_prometheus_host": _loopback_only,
    "monitoring_server_prometheus_port": c.port,
    "monitoring_server_alertmanager_host": _loopback_only,
    "monitoring_server_alertmanager_port": c.port,
    "monitoring_server_blackbox_port": c.port,
    "monitoring_server_scrape_interval": c.int_range(5, 300),
    "monitoring_server_retention_time": _duration,
    "monitoring_server_retention_size": _size,
    "monitoring_server_webhook_receivers": _receivers,
    "monitoring_server_watchdog_receiver": _watchdog,
    "monitoring_server_group_wait": c.int_range(0, 600),
    "monitoring_server_repeat_interval": _duration,
    "monitoring_server_export_dir": c.abs_path,
    "monitoring_server_verify_requests": c.int_range(0, 200),
}
