"""Input rules of role host_base (see module_utils/inputs.py)."""

from ansible_collections.qwen3.deploy.plugins.module_utils import input_checks as c

_PROXY_BASES = ("http_proxy", "https_proxy", "no_proxy", "all_proxy")
_PROXY_NAMES = {name for base in _PROXY_BASES for name in (base, base.upper())}


def _proxy_env(value, values, profile):
    message = c.env_mapping(value, values, profile, allow_null=False)
    if message:
        return message
    unknown = sorted(set(value) - _PROXY_NAMES)
    return f"only proxy variables ({', '.join(sorted(_PROXY_NAMES))}) belong here, got {unknown}" if unknown else None


def _pem_files(value, values, profile):
    return c.each(c.abs_path, kind="controller path")(value, values, profile)


def _link(value, values, profile):
    if isinstance(value, str) and value.startswith("/") and " " not in value:
        return None
    return c.url("http", "https", "file")(value, values, profile)


RULES = {
    "host_base_ca_certificates": _pem_files,
    "host_base_pip_index_url": c.url("http", "https", "file", allow_empty=True),
    "host_base_pip_extra_index_urls": c.each(c.url("http", "https", "file"), kind="URL"),
    "host_base_pip_find_links": c.each(_link, kind="directory or URL"),
    "host_base_pip_trusted_hosts": c.each(c.bind_address, kind="host name"),
    "host_base_proxy_env": _proxy_env,
    "host_base_packages": c.each(c.word, kind="package name"),
}
