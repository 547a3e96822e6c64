"""Input rules of role webui_proxy (see module_utils/inputs.py)."""

import re

from ansible_collections.qwen3.deploy.plugins.module_utils import input_checks as c

_SIZE = re.compile(r"^[0-9]+[kKmMgG]?$")
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")


def _server_name(value, _values, _profile):
    if value in ("", None):
        return None
    if not isinstance(value, str) or not _NAME.match(value):
        return "must be a DNS name (letters, digits, dots, hyphens) or empty for the inventory host name"
    return None


def _size(value, _values, _profile):
    if not isinstance(value, str) or not _SIZE.match(value):
        return "must be an nginx size such as 100m, 512k or 1g"
    return None


RULES = {
    "webui_proxy_enabled": c.ok,
    "webui_proxy_status_port": c.port,
    "webui_proxy_host": c.bind_address,
    "webui_proxy_port": c.port,
    "webui_proxy_server_name": _server_name,
    "webui_proxy_tls_cert_src": c.pem_src("webui_proxy_tls_key_src"),
    "webui_proxy_tls_key_src": c.pem_src("webui_proxy_tls_cert_src"),
    "webui_proxy_generated_cert_days": c.int_range(1, 3650),
    "webui_proxy_read_timeout": c.int_range(60, 86400),
    "webui_proxy_client_max_body_size": _size,
    "webui_proxy_gzip_static": c.ok,
}
