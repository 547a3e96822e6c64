"""Input rules of role monitoring_server (see module_utils/inputs.py)."""

import ipaddress
import re

from ansible_collections.qwen3.deploy.plugins.module_utils import input_checks as c
from ansible_collections.qwen3.deploy.plugins.module_utils.monitoring import web

_DURATION = re.compile(r"^[0-9]+(ms|s|m|h|d|w|y)$")  # Prometheus' duration (model.ParseDuration), one unit
_SIZE = re.compile(r"^[0-9]+(B|KB|MB|GB|TB|PB|EB)$")  # --storage.tsdb.retention.size (units.Base2Bytes)
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
LOOPBACK = web.LOOPBACK
MAX_PASSWORD_BYTES = 72  # bcrypt (hosttools web_password)


def _duration(value, _values, _profile):
    if not isinstance(value, str) or not _DURATION.match(value):
        return "must be a Prometheus duration such as 15d, 12h or 30m"
    return None


def _size(value, _values, _profile):
    if not isinstance(value, str) or not _SIZE.match(value):
        return "must be a size such as 5GB or 512MB"
    return None


def _bind(value, values, profile):
    """Loopback, or an IP literal once opened: the generated certificate and the nftables set need the address."""
    message = c.bind_address(value, values, profile)
    if message:
        return message
    if value not in LOOPBACK:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            return f"{value!r}: beyond loopback it must be an IP address (0.0.0.0, :: or one of the host's), not a name"
    return None


def _user(value, _values, _profile):
    if not isinstance(value, str) or not _NAME.match(value) or ":" in value:
        return "must be a user name of letters, digits, '.', '_' or '-'"
    return None


def _password(value, values, profile):
    message = c.secret(12, required=False)(value, values, profile)
    if message:
        return message
    if isinstance(value, str) and len(value.encode()) > MAX_PASSWORD_BYTES:
        return f"may be at most {MAX_PASSWORD_BYTES} bytes (bcrypt reads no more)"
    return None


def _opened(values, _profile):
    """Opening either daemon needs the password and the admitted sources (TLS comes generated if not given)."""
    binds = [values.get("monitoring_server_prometheus_host"), values.get("monitoring_server_alertmanager_host")]
    if not values.get("monitoring_server_enabled", True) or not web.opened(*[b for b in binds if b]):
        return []
    opened_by = next(name for name in ("monitoring_server_prometheus_host", "monitoring_server_alertmanager_host")
                     if values.get(name) not in LOOPBACK)
    # Reported under the address the user opened (the missing values are what that choice asks for).
    missing = [name for name in ("monitoring_server_web_password", "monitoring_server_allowed_sources")
               if values.get(name) in ("", None, [])]
    if missing:
        return [f"{opened_by}: opening Prometheus/Alertmanager beyond loopback needs {' and '.join(missing)} "
                "(TLS and basic auth with the vault password; nftables admits only those sources)"]
    return []


def _bad_name(name) -> bool:
    """A receiver name Alertmanager takes; qwen3-null is ours (the route for what nobody receives)."""
    return not isinstance(name, str) or not _NAME.match(name) or name == "qwen3-null"


def _receivers(value, _values, _profile):
    if not isinstance(value, list):
        return "must be a list of {name, url} webhook receivers"
    names = []
    for index, item in enumerate(value):
        if not isinstance(item, dict) or set(item) != {"name", "url"}:
            return f"item {index}: must be a mapping with exactly name and url"
        if _bad_name(item["name"]):
            return f"item {index}: name must be letters, digits, '.', '_' or '-' (not qwen3-null)"
        if c.url("http", "https")(item["url"], _values, _profile):
            # the URL itself is never echoed: it may hold a token
            return f"item {index} ({item['name']}): url must be an http or https URL without spaces"
        names.append(item["name"])
    if len(set(names)) != len(names):
        return "receiver names must be distinct"
    return None


_ADDRESS = re.compile(r"^[^@\s,<>]+@[^@\s,<>]+$")
_EMAIL_KEYS = {"name", "to", "from", "smarthost"}
_EMAIL_OPTIONAL = {"auth_username", "require_tls"}


def _smarthost(value) -> bool:
    """host:port as Alertmanager dials it (net.SplitHostPort: an IPv6 literal in brackets)."""
    if not isinstance(value, str):
        return False
    host, _, port = value.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    return bool(host) and " " not in host and port.isdigit() and 1 <= int(port) <= 65535


def _email_receivers(value, _values, _profile):
    if not isinstance(value, list):
        return "must be a list of {name, to, from, smarthost} email receivers"
    for index, item in enumerate(value):
        if not isinstance(item, dict) or not _EMAIL_KEYS <= set(item) or set(item) - _EMAIL_KEYS - _EMAIL_OPTIONAL:
            return (f"item {index}: must be a mapping with name, to, from, smarthost "
                    "(and optionally auth_username, require_tls)")
        if _bad_name(item["name"]):
            return f"item {index}: name must be letters, digits, '.', '_' or '-' (not qwen3-null)"
        recipients = item["to"].split(",") if isinstance(item["to"], str) else [None]
        if not all(isinstance(r, str) and _ADDRESS.match(r.strip()) for r in recipients):
            return f"item {index} ({item['name']}): to must be an email address (several: comma-separated)"
        if not isinstance(item["from"], str) or not _ADDRESS.match(item["from"]):
            return f"item {index} ({item['name']}): from must be one email address"
        if not _smarthost(item["smarthost"]):
            return f"item {index} ({item['name']}): smarthost must be host:port, e.g. smtp.example.com:587"
        if "require_tls" in item and not isinstance(item["require_tls"], bool):
            return f"item {index} ({item['name']}): require_tls must be true or false"
        if "auth_username" in item and not (isinstance(item["auth_username"], str) and item["auth_username"].strip()):
            return f"item {index} ({item['name']}): auth_username must be a non-empty string"
    return None


def _names(values, variable: str) -> list:
    return [r.get("name") for r in values.get(variable) or [] if isinstance(r, dict)]


def _receiver_names(values) -> list:
    return _names(values, "monitoring_server_webhook_receivers") + _names(values, "monitoring_server_email_receivers")


def _watchdog(value, values, _profile):
    if value in ("", None):
        return None
    if value not in _receiver_names(values):
        return (f"{value!r} is not the name of one of monitoring_server_webhook_receivers or "
                "monitoring_server_email_receivers")
    return None


def _receivers_together(values, _profile):
    """Names distinct across both kinds; a receiver that signs in to its relay needs the vault password."""
    # Duplicates among the webhooks alone are that variable's own rule (_receivers): not reported here again.
    webhooks = _names(values, "monitoring_server_webhook_receivers")
    emails = _names(values, "monitoring_server_email_receivers")
    if len(set(emails)) != len(emails) or set(emails) & set(webhooks):
        return ["monitoring_server_email_receivers: receiver names must be distinct from each other and from "
                "monitoring_server_webhook_receivers"]
    signing_in = [r.get("name") for r in values.get("monitoring_server_email_receivers") or []
                  if isinstance(r, dict) and r.get("auth_username")]
    if signing_in and values.get("monitoring_server_smtp_password") in ("", None):
        return [f"monitoring_server_email_receivers: {', '.join(map(str, signing_in))} sign(s) in to the relay "
                "(auth_username) and need monitoring_server_smtp_password from the vault"]
    return []


RULES = {
    "monitoring_server_enabled": c.ok,
    "monitoring_server_prometheus_host": _bind,
    "monitoring_server_prometheus_port": c.port,
    "monitoring_server_alertmanager_host": _bind,
    "monitoring_server_alertmanager_port": c.port,
    "monitoring_server_blackbox_port": c.port,
    "monitoring_server_web_user": _user,
    "monitoring_server_web_password": _password,
    "monitoring_server_tls_cert_src": c.pem_src("monitoring_server_tls_key_src"),
    "monitoring_server_tls_key_src": c.pem_src("monitoring_server_tls_cert_src"),
    "monitoring_server_generated_cert_days": c.int_range(1, 3650),
    "monitoring_server_allowed_sources": c.each(c.ip_network, kind="address"),
    "monitoring_server_scrape_interval": c.int_range(5, 300),
    "monitoring_server_retention_time": _duration,
    "monitoring_server_retention_size": _size,
    "monitoring_server_webhook_receivers": _receivers,
    "monitoring_server_email_receivers": _email_receivers,
    "monitoring_server_smtp_password": c.secret(1, required=False),
    "monitoring_server_watchdog_receiver": _watchdog,
    "monitoring_server_group_wait": c.int_range(0, 600),
    "monitoring_server_repeat_interval": _duration,
    "monitoring_server_export_dir": c.abs_path,
    "monitoring_server_verify_requests": c.int_range(0, 200),
}
CHECKS = [_opened, _receivers_together]
