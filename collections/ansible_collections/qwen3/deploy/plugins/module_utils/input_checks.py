"""Small checkers for role inputs, shared by every role's rules (module_utils/input_rules/<role>.py).

A checker is ``check(value, values, profile) -> str | None``: None when the value is fine, else a message
that says what is wrong WITHOUT repeating secret values (the caller prefixes the variable name). ``values``
holds the role's other inputs (already converted by the argument spec), ``profile`` the resolved ``llm`` or
None. Factories below return checkers; ``all_of`` chains them.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Callable
from typing import Any

Checker = Callable[[Any, dict, "dict | None"], "str | None"]

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")
_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_UNIT = re.compile(r"^[A-Za-z0-9:_.@-]+\.service$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_VERSION = re.compile(r"^[0-9]+(\.[0-9]+){1,3}([a-z0-9.+-]*)?$")
_PIP_SPEC = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?((==|>=|<=|~=|!=|<|>)[A-Za-z0-9.*+!-]+)?$")
_IMAGE = re.compile(r"^[a-z0-9][a-z0-9._/:-]*(@sha256:[0-9a-f]{64})?$")


def ok(_value, _values, _profile):
    """Anything the argument spec accepts (its type and choices are the whole rule)."""
    return None


def all_of(*checkers: Checker) -> Checker:
    def check(value, values, profile):
        for checker in checkers:
            message = checker(value, values, profile)
            if message:
                return message
        return None

    return check


def int_range(low: int | None = None, high: int | None = None) -> Checker:
    def check(value, _values, _profile):
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be a whole number, got {value!r}"
        if (low is not None and value < low) or (high is not None and value > high):
            span = f"{low if low is not None else '-inf'}..{high if high is not None else 'inf'}"
            return f"must be in {span}, got {value}"
        return None

    return check


def number_range(low: float | None = None, high: float | None = None, *, low_open: bool = False) -> Checker:
    def check(value, _values, _profile):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            return f"must be a number, got {value!r}"
        if low is not None and (value <= low if low_open else value < low):
            return f"must be {'>' if low_open else '>='} {low}, got {value}"
        if high is not None and value > high:
            return f"must be <= {high}, got {value}"
        return None

    return check


port = int_range(1, 65535)
positive = int_range(1)
non_negative = int_range(0)


def seconds(high: int = 86400) -> Checker:
    return int_range(1, high)


def bind_address(value, _values, _profile):
    """An address a service can bind: an IPv4/IPv6 literal (wildcards included) or a host name."""
    if not isinstance(value, str) or not value:
        return "must be an IP address or host name (e.g. 127.0.0.1)"
    try:
        ipaddress.ip_address(value)
        return None
    except ValueError:
        pass
    if _HOSTNAME.match(value):
        return None
    return f"{value!r} is not an IP address or host name (no spaces, ports or schemes)"


def host_port(value, values, profile):
    """``HOST:PORT`` (IPv6 as ``[addr]:port``)."""
    if not isinstance(value, str):
        return "must be HOST:PORT"
    match = re.match(r"^\[([0-9A-Fa-f:.]+)\]:([0-9]+)$", value) or re.match(r"^([^:\s\[\]]+):([0-9]+)$", value)
    if not match:
        return f"{value!r} is not HOST:PORT"
    return bind_address(match.group(1), values, profile) or port(int(match.group(2)), values, profile)


def url(*schemes: str, allow_empty: bool = False) -> Checker:
    schemes = schemes or ("http", "https")

    def check(value, _values, _profile):
        if allow_empty and value in ("", None):
            return None
        if not isinstance(value, str) or not re.match(rf"^({'|'.join(schemes)})://[^\s/?#]+[^\s]*$", value):
            return f"must be a {'/'.join(schemes)} URL without spaces, got {value!r}"
        return None

    return check


def abs_path(value, _values, _profile):
    if not isinstance(value, str) or not value.startswith("/") or re.search(r"\s", value) or "/../" in value + "/":
        return f"must be an absolute path without spaces or '..', got {value!r}"
    return None


def optional(checker: Checker) -> Checker:
    """Empty string / null means "not used"; anything else must pass ``checker``."""

    def check(value, values, profile):
        return None if value in ("", None) else checker(value, values, profile)

    return check


def word(value, _values, _profile):
    if not isinstance(value, str) or not value or re.search(r"\s", value):
        return "must be a non-empty string without whitespace"
    return None


def text_line(value, _values, _profile):
    if not isinstance(value, str) or "\n" in value or "\r" in value:
        return "must be one line of text"
    return None


def nonempty(value, _values, _profile):
    if value in ("", None, [], {}):
        return "must be set"
    return None


def secret(min_length: int = 1, *, required: bool = True) -> Checker:
    """A vault value: set (when required), one line, no quotes or '=' splitting trouble; never echoed."""

    def check(value, _values, _profile):
        if value in ("", None):
            return "must be set (from the vault)" if required else None
        if not isinstance(value, str):
            return "must be a string"
        if any(ch in value for ch in "\n\r'\"\\") or value != value.strip():
            return "may not contain quotes, backslashes, newlines or surrounding spaces"
        if len(value) < min_length:
            return f"must be at least {min_length} characters long"
        return None

    return check


def system_name(value, _values, _profile):
    if not isinstance(value, str) or not _NAME.match(value):
        return f"must be a system user/group name (lowercase letters, digits, _ and -), got {value!r}"
    return None


def unit_name(value, _values, _profile):
    if not isinstance(value, str) or not _UNIT.match(value):
        return f"must be a systemd service name like name.service, got {value!r}"
    return None


def version(value, _values, _profile):
    if not isinstance(value, str) or not _VERSION.match(value):
        return f"must be a release version like 1.2.3, got {value!r}"
    return None


def sha256(value, _values, _profile):
    if not isinstance(value, str) or not _SHA256.match(value):
        return "must be 64 hexadecimal characters (a sha256)"
    return None


def image_ref(value, _values, _profile):
    if not isinstance(value, str) or not _IMAGE.match(value):
        return f"must be a container image reference, got {value!r}"
    return None


def pip_specs(value, _values, _profile):
    if not isinstance(value, list):
        return "must be a list of pip requirement specifiers"
    bad = [item for item in value if not isinstance(item, str) or not _PIP_SPEC.match(item)]
    return f"not pip requirement specifiers: {bad}" if bad else None


def one_of(*choices: str) -> Checker:
    def check(value, _values, _profile):
        return None if value in choices else f"{value!r} is not one of {', '.join(choices)}"

    return check


def each(checker: Checker, *, kind: str = "item") -> Checker:
    def check(value, values, profile):
        if not isinstance(value, list):
            return f"must be a list of {kind}s"
        for index, item in enumerate(value):
            message = checker(item, values, profile)
            if message:
                return f"[{index}] {message}"
        return None

    return check


def env_mapping(value, _values, _profile, *, allow_null: bool = True):
    """{NAME: scalar}: names like environment variables, values one line (null may remove a default)."""
    if not isinstance(value, dict):
        return "must be a mapping of NAME: value"
    for key, item in value.items():
        if not isinstance(key, str) or not _ENV_NAME.match(key):
            return f"{key!r} is not an environment variable name"
        if item is None and allow_null:
            continue
        if isinstance(item, (dict, list)) or "\n" in str(item):
            return f"{key}: must be a one-line scalar"
    return None


def mapping_of_scalars(value, _values, _profile):
    if not isinstance(value, dict):
        return "must be a mapping"
    for key, item in value.items():
        if isinstance(item, (dict, list)) or (isinstance(item, str) and "\n" in item):
            return f"{key}: must be a one-line scalar"
    return None


def pem_src(pair: str) -> Checker:
    """One half of an operator's certificate/key pair on the controller; both empty: a self-signed one is made."""

    def check(value, values, _profile):
        if value in ("", None):
            return None  # a pair with one half set is reported under the half the user wrote
        if not isinstance(value, str) or not os.path.isabs(value):
            return "must be an absolute path on the controller (or empty to generate a self-signed certificate)"
        if not os.path.isfile(value):
            return f"{value} is not a file on the controller"
        if values.get(pair) in ("", None):
            return f"must be set together with {pair}, which is empty"
        return None

    return check


def ip_network(value, _values, _profile):
    """A literal address or network for an nftables set: nft would try DNS for a name (which can change)."""
    try:
        ipaddress.ip_network(str(value).split("%", 1)[0], strict=False)
    except ValueError:
        return f"{value!r} is not an IP address or network (no host names)"
    return None
