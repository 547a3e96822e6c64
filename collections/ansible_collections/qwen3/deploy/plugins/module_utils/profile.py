"""Resolve a serving profile from the catalog plus inventory overrides: merge, validate, derive. One call.

Every error names the inventory variable to fix (``llm_profile`` or ``llm_profile_overrides.<path>``) so an
operator can act on it without reading code. Values derived from other fields are computed here and nowhere else:

- ``max_model_len`` is the one home of the context length: Ollama's ``num_ctx`` PARAMETER and
  ``OLLAMA_CONTEXT_LENGTH`` are derived from it (setting them in a profile or override is an error);
- ``max_num_seqs`` is the one home of concurrency: ``OLLAMA_NUM_PARALLEL`` is derived from it;
- ``vllm.flags`` is the profile's part of the ``vllm serve`` command line (``vllm_args.profile_flags``);
- ``vllm.install`` is what the vLLM venv installs and the unit needs for it (``cuda_route.install_plan``).
"""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path
from typing import Any

import yaml
from ansible_collections.qwen3.deploy.plugins.module_utils import cuda_route, vllm_args

ENGINES = ("vllm", "ollama")
ACCELERATORS = ("nvidia", "cpu")
MODEL_SOURCES = ("hf", "prestaged", "ollama")
QUANTIZATIONS = ("none", "fp8", "awq", "gptq", "q8_0", "q4_k_m")
VLLM_FLAG_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
COMMIT_SHA = re.compile(r"^[0-9a-f]{40}$")
REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
OLLAMA_TAG = re.compile(r"[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9._-]+)?")
SERVED_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")

# Fields whose value is a free-form mapping: overrides may add keys below them.
OPEN_MAPPINGS = ("vllm.args", "vllm.env", "ollama.env", "ollama.parameters")
# Settings derived from one profile field; writing them anywhere else would give them a second home.
DERIVED = {
    ("ollama.parameters", "num_ctx"): "max_model_len",
    ("ollama.env", "OLLAMA_CONTEXT_LENGTH"): "max_model_len",
    ("ollama.env", "OLLAMA_NUM_PARALLEL"): "max_num_seqs",
}

class ProfileError(ValueError):
    """A profile or override that cannot be served; the message names the variable."""


def load_catalog(path: Path) -> dict[str, dict]:
    """The catalog mapping from roles/llm_profile/vars/profiles.yml (tests and tools; the role loads it itself)."""
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)["__llm_profile_catalog"]


def _merge(base: dict, override: dict, path: str) -> dict:
    merged = copy.deepcopy(base)
    open_mapping = path.removeprefix("llm_profile_overrides.") in OPEN_MAPPINGS
    for key, value in override.items():
        where = f"{path}.{key}"
        if key not in base:
            if not open_mapping:
                known = ", ".join(sorted(base)) or "(none)"
                raise ProfileError(f"{where}: unknown field; known fields here: {known}")
            merged[key] = copy.deepcopy(value)
        elif isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise ProfileError(f"{where}: must be a mapping, got {type(value).__name__}")
            merged[key] = _merge(base[key], value, where)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _number(value: Any, where: str, *, integer: bool = False) -> float | int:
    if isinstance(value, bool):
        raise ProfileError(f"{where}: must be a number, got {value!r}")
    if isinstance(value, str):
        try:
            value = float(value) if not integer else int(value, 10)
        except ValueError:
            kind = "an integer" if integer else "a number"
            raise ProfileError(f"{where}: must be {kind}, got {value!r}") from None
    if integer:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):
            raise ProfileError(f"{where}: must be an integer, got {value!r}")
    elif not isinstance(value, (int, float)) or math.isnan(value):
        raise ProfileError(f"{where}: must be a number, got {value!r}")
    return value


def _choice(value: Any, allowed: tuple[str, ...], where: str) -> str:
    if value not in allowed:
        raise ProfileError(f"{where}: {value!r} is not one of {', '.join(allowed)}")
    return value


def _where(field: str, overrides: dict, name: str) -> str:
    """Name the variable an operator should look at for ``field``."""
    node: Any = overrides
    for part in field.split("."):
        if not isinstance(node, dict) or part not in node:
            return f"llm_profile ({name}) field {field}"
        node = node[part]
    return f"llm_profile_overrides.{field}"


def validate(profile: dict, overrides: dict, name: str) -> dict:
    """Check types and ranges; return the profile with numbers normalised."""

    def at(field: str) -> str:
        return _where(field, overrides, name)

    p = profile
    if not isinstance(p["description"], str) or "\n" in p["description"]:
        raise ProfileError(f"{at('description')}: must be one line of text")
    _choice(p["engine"], ENGINES, at("engine"))
    _choice(p["accelerator"], ACCELERATORS, at("accelerator"))
    source = _choice(p["model"]["source"], MODEL_SOURCES, at("model.source"))
    _choice(p["quantization"], QUANTIZATIONS, at("quantization"))
    if (p["engine"] == "ollama") != (source == "ollama"):
        raise ProfileError(
            f"{at('model.source')}: {source!r} does not fit engine {p['engine']!r} "
            "(ollama engine pulls ollama tags; vllm engine uses hf or prestaged weights)"
        )
    model = p["model"]
    if (source == "hf" or model["repo_id"]) and not REPO_ID.fullmatch(str(model["repo_id"] or "")):
        raise ProfileError(f"{at('model.repo_id')}: required when model.source is hf, as owner/name")
    if source == "hf" or model["revision"]:
        if not COMMIT_SHA.fullmatch(str(model["revision"] or "")):
            raise ProfileError(
                f"{at('model.revision')}: pin the 40-character commit SHA of {p['model']['repo_id']} you reviewed "
                f"(got {p['model']['revision']!r}; a branch such as main moves under you)"
            )
    if (source == "ollama" or model["tag"]) and not OLLAMA_TAG.fullmatch(str(model["tag"] or "")):
        raise ProfileError(f"{at('model.tag')}: required when model.source is ollama, as name[:tag] without spaces")
    patterns = model["allow_patterns"]
    if not isinstance(patterns, list) or not all(isinstance(x, str) and x and "\n" not in x for x in patterns):
        raise ProfileError(f"{at('model.allow_patterns')}: must be a list of glob patterns, e.g. ['*.safetensors']")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", str(p["vllm"]["package"])):
        raise ProfileError(f"{at('vllm.package')}: {p['vllm']['package']!r} is not a package name")
    if not re.fullmatch(r"[0-9]+(\.[0-9]+){1,3}([a-z0-9.+-]*)?", str(p["vllm"]["version"])):
        raise ProfileError(f"{at('vllm.version')}: {p['vllm']['version']!r} is not a release version like 0.32.0")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", str(p["model"]["name"])):
        raise ProfileError(f"{at('model.name')}: {p['model']['name']!r} must be a plain directory/model name")
    if not SERVED_NAME.fullmatch(str(p["served_model_name"])):
        raise ProfileError(f"{at('served_model_name')}: {p['served_model_name']!r} is not a valid model name")
    if source == "ollama" and str(p["served_model_name"]).split(":")[0] != p["model"]["name"]:
        raise ProfileError(
            f"{at('served_model_name')}: Ollama serves the created model as {p['model']['name']}:<tag>; "
            f"got {p['served_model_name']!r}"
        )
    if not isinstance(p["force_quantization"], bool):
        raise ProfileError(f"{at('force_quantization')}: must be true or false")

    p["max_model_len"] = _number(p["max_model_len"], at("max_model_len"), integer=True)
    if p["max_model_len"] <= 0:
        raise ProfileError(f"{at('max_model_len')}: must be > 0, got {p['max_model_len']}")
    limit = _number(p["model"]["max_position_embeddings"], at("model.max_position_embeddings"), integer=True)
    if limit < 16:
        raise ProfileError(f"{at('model.max_position_embeddings')}: must be >= 16, got {limit}")
    p["model"]["max_position_embeddings"] = limit
    if p["max_model_len"] > limit:
        raise ProfileError(
            f"{at('max_model_len')}: {p['max_model_len']} is more than the model supports "
            f"({limit} positions, model.max_position_embeddings); vLLM would refuse to start"
        )
    p["max_num_seqs"] = _number(p["max_num_seqs"], at("max_num_seqs"), integer=True)
    if p["max_num_seqs"] < 1:
        raise ProfileError(f"{at('max_num_seqs')}: must be >= 1, got {p['max_num_seqs']}")
    p["tensor_parallel_size"] = _number(p["tensor_parallel_size"], at("tensor_parallel_size"), integer=True)
    if p["tensor_parallel_size"] < 1:
        raise ProfileError(f"{at('tensor_parallel_size')}: must be >= 1, got {p['tensor_parallel_size']}")
    if p["accelerator"] == "cpu" and p["tensor_parallel_size"] != 1:
        raise ProfileError(f"{at('tensor_parallel_size')}: the CPU build serves with tensor_parallel_size 1 only")
    util = _number(p["gpu_memory_utilization"], at("gpu_memory_utilization"))
    if not 0 < util <= 1:
        raise ProfileError(f"{at('gpu_memory_utilization')}: must be in (0, 1], got {util}")
    p["gpu_memory_utilization"] = util

    for field in ("weights_gib", "kv_cache_dtype_bytes"):
        value = _number(p["vram"][field], at(f"vram.{field}"))
        if value <= 0:
            raise ProfileError(f"{at('vram.' + field)}: must be > 0, got {value}")
        p["vram"][field] = value
    for field in ("num_layers", "num_kv_heads", "head_dim"):
        value = _number(p["vram"][field], at(f"vram.{field}"), integer=True)
        if value < 1:
            raise ProfileError(f"{at('vram.' + field)}: must be >= 1, got {value}")
        p["vram"][field] = value
    if p["min_compute_capability"] is not None:
        p["min_compute_capability"] = _number(p["min_compute_capability"], at("min_compute_capability"))
    p["disk_gib"] = _number(p["disk_gib"], at("disk_gib"))
    if p["disk_gib"] < 0:
        raise ProfileError(f"{at('disk_gib')}: must be >= 0, got {p['disk_gib']}")

    for flag, value in p["vllm"]["args"].items():
        if not VLLM_FLAG_NAME.fullmatch(str(flag)):
            raise ProfileError(
                f"{at('vllm.args')}: flag name {flag!r} must be written without dashes, e.g. enforce-eager"
            )
        if isinstance(value, (dict, list)) and flag != "default-chat-template-kwargs":
            raise ProfileError(f"{at('vllm.args.' + flag)}: must be a single value or true")
    for (mapping, key), home in DERIVED.items():
        section, field = mapping.split(".")
        if key in p[section][field]:
            raise ProfileError(
                f"{at(mapping)}.{key}: derived from {home} (set llm_profile_overrides.{home} instead); "
                "one setting, one home"
            )
    try:
        cuda_route.validate(p, at)
    except cuda_route.RouteError as error:
        raise ProfileError(str(error)) from None
    for key, value in p["vllm"]["env"].items():
        if not re.fullmatch(r"[A-Z_][A-Z0-9_]*", str(key)) or isinstance(value, (dict, list)):
            raise ProfileError(f"{at('vllm.env.' + str(key))}: environment names are UPPER_CASE with a scalar value")

    thresholds = p["thresholds"]
    for field in ("ttft_p95_ms", "webui_overhead_p50_ms", "min_decode_tokens_per_s", "max_error_rate",
                  "browser_overhead_p50_ms", "browser_first_paint_p95_ms", "socket_probe_gap_pct"):
        value = _number(thresholds[field], at(f"thresholds.{field}"))
        if value < 0:
            raise ProfileError(f"{at('thresholds.' + field)}: must be >= 0, got {value}")
        thresholds[field] = value
    thresholds["max_tokens_per_event"] = _number(
        thresholds["max_tokens_per_event"], at("thresholds.max_tokens_per_event"), integer=True
    )
    if thresholds["max_tokens_per_event"] < 1:
        raise ProfileError(f"{at('thresholds.max_tokens_per_event')}: must be >= 1")
    if not isinstance(thresholds["thinking_allowed"], bool):
        raise ProfileError(f"{at('thresholds.thinking_allowed')}: must be true or false")
    if thresholds["max_error_rate"] > 1:
        raise ProfileError(f"{at('thresholds.max_error_rate')}: must be in [0, 1]")
    return p


def derive(profile: dict) -> dict:
    """Add the values computed from the profile's own fields (see the module docstring)."""
    p = profile
    if p["engine"] == "ollama":
        p["ollama"]["parameters"]["num_ctx"] = p["max_model_len"]
        p["ollama"]["env"]["OLLAMA_CONTEXT_LENGTH"] = str(p["max_model_len"])
        p["ollama"]["env"]["OLLAMA_NUM_PARALLEL"] = str(p["max_num_seqs"])
        p["vllm"]["flags"] = []
    else:
        p["vllm"]["flags"] = vllm_args.profile_flags(p)
    p["vllm"]["install"] = cuda_route.install_plan(p)
    return p


def resolve(catalog: dict, name: Any, overrides: Any = None) -> dict:
    """Return the catalog entry ``name`` deep-merged with ``overrides``, validated and with derived values.

    The result carries ``name`` so later roles and reports can say which profile ran.
    """
    if not isinstance(name, str) or name not in catalog:
        known = ", ".join(sorted(catalog))
        raise ProfileError(f"llm_profile: unknown profile {name!r}; choose one of: {known}")
    overrides = overrides or {}
    if not isinstance(overrides, dict):
        raise ProfileError("llm_profile_overrides: must be a mapping of profile fields")
    profile = _merge(catalog[name], overrides, "llm_profile_overrides")
    profile = validate(profile, overrides, name)
    profile["name"] = name
    try:
        return derive(profile)
    except vllm_args.VllmArgsError as error:
        raise ProfileError(f"llm_profile_overrides.vllm.args: {error}") from None


def resolve_result(catalog: dict, name: Any, overrides: Any = None) -> dict:
    """``{"errors": [message], "profile": None}`` or ``{"errors": [], "profile": resolved}``: one resolution,
    shaped for a task that fails cleanly on errors (the llm_profile role)."""
    try:
        return {"errors": [], "profile": resolve(catalog, name, overrides)}
    except ProfileError as error:
        return {"errors": [str(error)], "profile": None}
