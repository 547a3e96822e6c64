"""Input rules of role open_webui (see module_utils/inputs.py)."""

import re

from ansible_collections.qwen3.deploy.plugins.module_utils import input_checks as c

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _enabled(values):
    return bool(values.get("open_webui_enabled", True))


def _admin_email(value, values, _profile):
    if not _enabled(values):
        return None
    if not isinstance(value, str) or not _EMAIL.match(value):
        return "must be the first admin's e-mail address (vault); without it the first visitor becomes admin"
    return None


def _admin_password(value, values, profile):
    if not _enabled(values):
        return None
    return c.secret(min_length=8)(value, values, profile)


def _secret_key(value, values, profile):
    if value in ("", None):
        return None  # generated on the host once
    message = c.secret(min_length=16)(value, values, profile)
    if message:
        return message
    if len(value) == 44 and not re.match(r"^[A-Za-z0-9_-]{43}=$", value):
        return ("has 44 characters, so Open WebUI 0.12.4 uses it as a Fernet key (utils/oauth.py) and fails "
                "to start unless it is 32 url-safe base64 bytes: use another length")
    return None


def _backend_url(value, values, profile):
    return c.url()(value, values, profile)


def _extra_env(value, values, profile):
    return c.env_mapping(value, values, profile, allow_null=False)


def _interface_defaults(value, _values, _profile):
    if not isinstance(value, dict):
        return "must be a mapping of Open WebUI interface settings (e.g. {chatFadeStreamingText: false})"
    bad = [k for k in value if not isinstance(k, str) or not k.replace("_", "").isalnum()]
    return f"setting names must be words, got {bad}" if bad else None


RULES = {
    "open_webui_enabled": c.ok,
    "open_webui_version": c.version,
    "open_webui_torch_version": c.optional(c.version),
    "open_webui_pip_extra_args": c.text_line,
    "open_webui_host": c.bind_address,
    "open_webui_port": c.port,
    "open_webui_backend_kind": c.ok,
    "open_webui_backend_url": _backend_url,
    "open_webui_openai_api_key": c.secret(required=False),
    "open_webui_stream_chunk_size": c.int_range(1, 4096),
    "open_webui_enable_signup": c.ok,
    "open_webui_background_tasks": c.ok,
    "open_webui_builtin_tools": c.ok,
    "open_webui_enable_api_keys": c.ok,
    "open_webui_secret_key": _secret_key,
    "open_webui_admin_email": _admin_email,
    "open_webui_admin_password": _admin_password,
    "open_webui_admin_name": c.text_line,
    "open_webui_enforce_model_params": c.ok,
    "open_webui_extra_env": _extra_env,
    "open_webui_health_timeout": c.int_range(10, 3600),
    "open_webui_rollback": c.ok,
    "open_webui_backups_keep": c.int_range(1, 100),
    "open_webui_interface_defaults": _interface_defaults,
    "open_webui_ws_compression": c.ok,
}
