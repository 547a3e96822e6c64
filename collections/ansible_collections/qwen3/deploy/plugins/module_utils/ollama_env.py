"""Validate and merge the OLLAMA_* environment of the ollama.service drop-in.

Only variables Ollama reads (its ``envconfig`` package, see /work/shared/FACTS.md section 5) are accepted,
each with the value type Ollama parses. Names that circulate in blog posts but do nothing at run time
(``GGML_CUDA_*`` are compile-time switches, ``num_goroutines`` does not exist) are rejected with the list
of valid names. Every error names the inventory variable to change.

Sources, later wins: the profile (``llm.ollama.env``, changed through ``llm_profile_overrides.ollama.env``),
then the inventory (``ollama_service_env``); ``OLLAMA_HOST`` and ``OLLAMA_MODELS`` come from their own role
variables (``ollama_service_host``, ``ollama_service_models_dir``) and may not be set through the env dicts.
"""

from __future__ import annotations

import re
from typing import Any

PROFILE_VAR = "llm_profile_overrides.ollama.env"
INVENTORY_VAR = "ollama_service_env"
HOST_VAR = "ollama_service_host"
MODELS_VAR = "ollama_service_models_dir"

# name -> value kind. Kinds: uint, duration, bool, hostport, path, kvcache, string, debug.
KNOWN: dict[str, str] = {
    "OLLAMA_HOST": "hostport",
    "OLLAMA_MODELS": "path",
    "OLLAMA_NUM_PARALLEL": "uint",
    "OLLAMA_MAX_LOADED_MODELS": "uint",
    "OLLAMA_KEEP_ALIVE": "duration",
    "OLLAMA_FLASH_ATTENTION": "bool",
    "OLLAMA_KV_CACHE_TYPE": "kvcache",
    "OLLAMA_CONTEXT_LENGTH": "uint",
    "OLLAMA_MAX_QUEUE": "posint",
    "OLLAMA_SCHED_SPREAD": "bool",
    "OLLAMA_GPU_OVERHEAD": "uint",
    "OLLAMA_ORIGINS": "string",
    "OLLAMA_LOAD_TIMEOUT": "duration",
    "OLLAMA_LLM_LIBRARY": "string",
    # Also read by envconfig (AsMap in ollama/ollama envconfig/config.go):
    "OLLAMA_DEBUG": "debug",
    "OLLAMA_NOPRUNE": "bool",
    "OLLAMA_NOHISTORY": "bool",
    "OLLAMA_MULTIUSER_CACHE": "bool",
    "OLLAMA_INTEL_GPU": "bool",
    "CUDA_VISIBLE_DEVICES": "string",
    "HTTP_PROXY": "string",
    "HTTPS_PROXY": "string",
    "NO_PROXY": "string",
    "http_proxy": "string",
    "https_proxy": "string",
    "no_proxy": "string",
}
# Set through their own role variables, never through the env dicts.
RESERVED = {"OLLAMA_HOST": HOST_VAR, "OLLAMA_MODELS": MODELS_VAR}
KV_CACHE_TYPES = ("f16", "q8_0", "q4_0")
QUANTIZED_KV = ("q8_0", "q4_0")
GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")
GO_FALSE = ("0", "f", "F", "FALSE", "false", "False")
DEFAULT_HOST = "127.0.0.1:11434"
# The official install script's models directory (ollama_service_models_dir's default).
DEFAULT_MODELS_DIR = "/usr/share/ollama/.ollama/models"

_UINT = re.compile(r"^[0-9]+$")
_INT = re.compile(r"^-?[0-9]+$")
_GO_DURATION = re.compile(r"^[+-]?((\d+(\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h))+$")
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")
_IPV6 = re.compile(r"^\[[0-9A-Fa-f:.]+\]$")
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_MAX_UINT64 = 2**64 - 1


class OllamaEnvError(ValueError):
    """Invalid Ollama environment; the message names each variable to fix."""


def _text(value: Any) -> str:
    """The string systemd will pass: YAML ints and bools become what Ollama parses."""
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _check_hostport(value: str) -> str | None:
    scheme, sep, hostport = value.partition("://")
    if not sep:
        scheme, hostport = "http", value
    if scheme not in ("http", "https"):
        return f"scheme must be http or https, got {scheme!r}"
    hostport = hostport.rstrip("/")
    if hostport.startswith("["):
        host, _, port = hostport.partition("]")
        host += "]"
        port = port.removeprefix(":")
        if not _IPV6.match(host):
            return f"bad IPv6 address {host!r}"
    else:
        host, _, port = hostport.rpartition(":")
        if not host:
            return "must be HOST:PORT, e.g. 127.0.0.1:11434"
        if not _HOSTNAME.match(host):
            return f"bad host {host!r}"
    if not port.isdigit() or not 0 < int(port) <= 65535:
        return f"port must be 1-65535, got {port!r}"
    return None


def check_value(name: str, value: Any) -> str | None:
    """Why `value` is not valid for `name` (None: valid)."""
    kind = KNOWN[name]
    if value is None or isinstance(value, (dict, list)):
        return f"must be a scalar, got {value!r}"
    text = _text(value)
    if text != text.strip() or "\n" in text:
        return f"must not contain surrounding spaces or newlines, got {text!r}"
    if kind == "uint":
        if not _UINT.match(text) or int(text) > _MAX_UINT64:
            return f"must be a non-negative integer, got {text!r}"
    elif kind == "posint":
        if not _UINT.match(text) or int(text) < 1:
            return f"must be a positive integer, got {text!r}"
    elif kind == "duration":
        if not (_INT.match(text) or _GO_DURATION.match(text)):
            return f"must be a duration like 5m, 24h, 300 (seconds) or -1 (forever), got {text!r}"
    elif kind == "bool":
        if text not in GO_TRUE + GO_FALSE:
            return f"must be a boolean (1/0, true/false), got {text!r}"
    elif kind == "debug":
        if text not in GO_TRUE + GO_FALSE and not _UINT.match(text):
            return f"must be a boolean or a debug level (0, 1, 2), got {text!r}"
    elif kind == "kvcache":
        if text not in KV_CACHE_TYPES:
            return f"must be one of {', '.join(KV_CACHE_TYPES)}, got {text!r}"
    elif kind == "hostport":
        problem = _check_hostport(text)
        if problem:
            return problem
    elif kind == "path":
        if not text.startswith("/"):
            return f"must be an absolute path, got {text!r}"
    elif kind == "string" and text == "":
        return "must not be empty (leave the variable out instead)"
    return None


def _check_source(env: Any, var: str, errors: list[str], *, allow_reserved: bool = False) -> dict[str, str]:
    if env is None:
        return {}
    if not isinstance(env, dict):
        errors.append(f"{var}: must be a mapping of OLLAMA_* names to values, got {type(env).__name__}")
        return {}
    out = {}
    for name, value in env.items():
        where = f"{var}.{name}"
        if not isinstance(name, str) or not _VAR_NAME.match(name):
            errors.append(f"{where}: not an environment variable name")
            continue
        if name not in KNOWN:
            hint = ""
            if name.startswith("GGML_"):
                hint = " (GGML_* are llama.cpp compile-time switches; Ollama does not read them at run time)"
            elif name.upper() != name or not name.startswith(("OLLAMA_", "CUDA_", "HTTP", "NO_")):
                hint = " (not an environment variable Ollama reads)"
            valid = ", ".join(n for n in sorted(KNOWN) if n not in RESERVED)
            errors.append(f"{where}: unknown Ollama variable{hint}; valid names: {valid}")
            continue
        if name in RESERVED and not allow_reserved:
            errors.append(f"{where}: set {RESERVED[name]} instead of putting {name} in {var}")
            continue
        problem = check_value(name, value)
        if problem:
            errors.append(f"{where}: {problem}")
            continue
        out[name] = _text(value)
    return out


def check(
    inventory_env: Any = None,
    profile_env: Any = None,
    host: Any = DEFAULT_HOST,
    models_dir: Any = DEFAULT_MODELS_DIR,
) -> list[str]:
    """Every problem with the merged environment (empty list: valid). Nothing is raised."""
    errors: list[str] = []
    merged = _check_source(profile_env, PROFILE_VAR, errors)
    merged.update(_check_source(inventory_env, INVENTORY_VAR, errors))
    for name, var, value in (("OLLAMA_HOST", HOST_VAR, host), ("OLLAMA_MODELS", MODELS_VAR, models_dir)):
        problem = check_value(name, value)
        if problem:
            errors.append(f"{var}: {problem}")
    kv = merged.get("OLLAMA_KV_CACHE_TYPE", "f16")
    if kv in QUANTIZED_KV and merged.get("OLLAMA_FLASH_ATTENTION") not in GO_TRUE:
        source = (
            INVENTORY_VAR
            if isinstance(inventory_env, dict) and "OLLAMA_KV_CACHE_TYPE" in inventory_env
            else PROFILE_VAR
        )
        errors.append(
            f"{source}.OLLAMA_KV_CACHE_TYPE: {kv} needs flash attention; set "
            f'{INVENTORY_VAR}.OLLAMA_FLASH_ATTENTION to "1" (Ollama otherwise falls back to an f16 cache)'
        )
    return errors


def merge(
    inventory_env: Any = None,
    profile_env: Any = None,
    host: Any = DEFAULT_HOST,
    models_dir: Any = DEFAULT_MODELS_DIR,
) -> dict[str, str]:
    """The drop-in's environment, names sorted, values as strings; raises OllamaEnvError listing every problem."""
    errors = check(inventory_env, profile_env, host, models_dir)
    if errors:
        raise OllamaEnvError("invalid Ollama environment: " + "; ".join(errors))
    merged = _check_source(profile_env, PROFILE_VAR, [])
    merged.update(_check_source(inventory_env, INVENTORY_VAR, []))
    merged["OLLAMA_HOST"] = _text(host)
    merged["OLLAMA_MODELS"] = _text(models_dir)
    return dict(sorted(merged.items()))


def base_url(host: str) -> str:
    """The URL a client on the host uses to reach the server bound at OLLAMA_HOST (0.0.0.0 -> 127.0.0.1)."""
    scheme, sep, hostport = host.partition("://")
    if not sep:
        scheme, hostport = "http", host
    hostport = hostport.rstrip("/")
    if hostport.startswith("0.0.0.0:"):
        hostport = "127.0.0.1:" + hostport.split(":", 1)[1]
    elif hostport.startswith("[::]:"):
        hostport = "[::1]:" + hostport.rsplit(":", 1)[1]
    return f"{scheme}://{hostport}"
