"""Turn the resolved profile `llm` into the `vllm serve` argv and environment of the vLLM unit.

Everything the `vllm_service` role decides about the command line lives here, so it is tested
without a host. Errors name the variable the operator has to fix.

The API key never appears here: the unit reads it from an EnvironmentFile (VLLM_API_KEY).
"""

from __future__ import annotations

import json
import math
import re

# Flags the role renders itself from dedicated variables; extra args may not set them.
_OWNED_FLAGS = {
    "served-model-name": "llm.served_model_name",
    "host": "vllm_service_host",
    "port": "vllm_service_port",
    "model": "llm.model.name",
    "max-model-len": "llm.max_model_len",
    "max-num-seqs": "llm.max_num_seqs",
    "tensor-parallel-size": "llm.tensor_parallel_size",
    "gpu-memory-utilization": "llm.gpu_memory_utilization",
    "reasoning-parser": "the role (always qwen3)",
    "default-chat-template-kwargs": "vllm_service_enable_thinking",
    "quantization": "llm.quantization with llm.force_quantization",
    "api-key": "vllm_service_api_key (it goes into an EnvironmentFile, never onto the command line)",
}
_FLAG_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SECRET_ENV = {"VLLM_API_KEY": "vllm_service_api_key", "HF_TOKEN": "model_weights_hf_token"}

REASONING_PARSER = "qwen3"


class VllmArgsError(ValueError):
    """A value that cannot become a `vllm serve` command line; the message names the variable."""


def _get(llm, path):
    node = llm
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise VllmArgsError(f"llm.{path} is missing from the resolved profile")
        node = node[part]
    return node


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _positive_int(value, name, minimum=1):
    if not _is_int(value) or value < minimum:
        raise VllmArgsError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


def _fraction(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise VllmArgsError(f"{name} must be a number in (0, 1], got {value!r}")
    if not 0 < value <= 1:
        raise VllmArgsError(f"{name} must be in (0, 1], got {value!r}")
    return value


def _word(value, name, pattern=r"^\S+$"):
    if not isinstance(value, str) or not value or not re.match(pattern, value):
        raise VllmArgsError(f"{name} must be a non-empty string without whitespace, got {value!r}")
    return value


def _scalar(value, name):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        if "\n" in str(value) or "\r" in str(value):
            raise VllmArgsError(f"{name}: the value may not contain a newline (a unit file value is one line)")
        return str(value)
    raise VllmArgsError(f"{name} must be a string or a number, got {type(value).__name__} {value!r}")


def args_to_argv(args, name):
    """{flag-name: value} -> argv words.

    true: bare `--flag`; false: `--no-flag`; null: left out (lets an override drop a profile arg);
    list: `--flag v1 v2` (nargs flags); dict: `--flag '<json>'`; else `--flag value`.
    Keys may use `_` or `-`; they are written with `-`.
    """
    if args is None:
        return []
    if not isinstance(args, dict):
        raise VllmArgsError(f"{name} must be a mapping of flag name to value, got {type(args).__name__}")
    argv = []
    for key, value in args.items():
        if not isinstance(key, str):
            raise VllmArgsError(f"{name}: flag name {key!r} must be a string")
        flag = key.lstrip("-").replace("_", "-")
        if not _FLAG_RE.match(flag):
            raise VllmArgsError(f"{name}.{key}: not a valid flag name")
        if flag in _OWNED_FLAGS:
            raise VllmArgsError(f"{name}.{key}: --{flag} is set from {_OWNED_FLAGS[flag]}; do not pass it here")
        if value is None:
            continue
        if value is True:
            argv.append(f"--{flag}")
        elif value is False:
            argv.append(f"--no-{flag}")
        elif isinstance(value, dict):
            argv += [f"--{flag}", json.dumps(value, sort_keys=True)]
        elif isinstance(value, list):
            if not value:
                raise VllmArgsError(f"{name}.{key}: an empty list is not a value; use null to leave the flag out")
            argv.append(f"--{flag}")
            argv += [_scalar(item, f"{name}.{key}[{index}]") for index, item in enumerate(value)]
        else:
            argv += [f"--{flag}", _scalar(value, f"{name}.{key}")]
    return argv


def _merge_args(*dicts):
    merged = {}
    for args in dicts:
        for key, value in (args or {}).items():
            merged[key.lstrip("-").replace("_", "-") if isinstance(key, str) else key] = value
    return merged


def profile_flags(llm):
    """The profile's part of the `vllm serve` command line, from its fields (computed once, when the profile
    is resolved, into ``llm.vllm.flags``). ``vllm.args`` are not included: they merge with the inventory's
    extra args in :func:`build_argv`."""
    if not isinstance(llm, dict):
        raise VllmArgsError(f"llm must be the resolved profile (a mapping), got {type(llm).__name__}")
    accelerator = _get(llm, "accelerator")
    served = _word(_get(llm, "served_model_name"), "llm.served_model_name")
    max_model_len = _positive_int(_get(llm, "max_model_len"), "llm.max_model_len", 16)
    max_num_seqs = _positive_int(_get(llm, "max_num_seqs"), "llm.max_num_seqs")
    tp = _positive_int(_get(llm, "tensor_parallel_size"), "llm.tensor_parallel_size")
    gmu = _fraction(_get(llm, "gpu_memory_utilization"), "llm.gpu_memory_utilization")
    force = _get(llm, "force_quantization")
    if not isinstance(force, bool):
        raise VllmArgsError(f"llm.force_quantization must be a boolean, got {force!r}")
    quantization = _get(llm, "quantization")
    if accelerator == "cpu":
        if tp != 1:
            raise VllmArgsError(f"llm.tensor_parallel_size must be 1 with accelerator 'cpu', got {tp}")
        if force:
            raise VllmArgsError("llm.force_quantization cannot be true with accelerator 'cpu' (no such CPU kernels)")
    flags = []
    for flag, value in (
        ("--served-model-name", served),
        ("--max-model-len", max_model_len),
        ("--max-num-seqs", max_num_seqs),
        ("--tensor-parallel-size", tp),
        ("--gpu-memory-utilization", gmu),
        ("--reasoning-parser", REASONING_PARSER),
    ):
        flags += [flag, str(value)]
    if force:
        _word(quantization, "llm.quantization")
        if quantization == "none":
            raise VllmArgsError("llm.force_quantization is true but llm.quantization is 'none'")
        flags += ["--quantization", quantization]
    args_to_argv(_get(llm, "vllm.args") or {}, "llm.vllm.args")  # refuse owned flags where they are written
    return flags


def build_argv(
    llm,
    *,
    venv,
    models_dir,
    host="127.0.0.1",
    port=8000,
    enable_thinking=False,
    extra_args=None,
):
    """The full `vllm serve` argv (argv[0] is the venv's `vllm`): where the model is, where it listens,
    the profile's flags (``llm.vllm.flags``), thinking off by default, then profile args + extra args."""
    if not isinstance(llm, dict):
        raise VllmArgsError(f"llm must be the resolved profile (a mapping), got {type(llm).__name__}")
    engine = _get(llm, "engine")
    if engine != "vllm":
        raise VllmArgsError(f"llm.engine is {engine!r}; the vllm_service role only deploys engine 'vllm'")
    _word(venv, "vllm_service_venv", r"^/\S*$")
    _word(models_dir, "vllm_service_models_dir", r"^/\S*$")
    _word(host, "vllm_service_host")
    if not _is_int(port) or not 1 <= port <= 65535:
        raise VllmArgsError(f"vllm_service_port must be an integer in 1..65535, got {port!r}")
    if not isinstance(enable_thinking, bool):
        raise VllmArgsError(f"vllm_service_enable_thinking must be a boolean, got {enable_thinking!r}")
    model_name = _word(_get(llm, "model.name"), "llm.model.name", r"^(?!\.\.?$)[^/\s]+$")
    flags = _get(llm, "vllm.flags")
    if not isinstance(flags, list) or not all(isinstance(word, str) for word in flags):
        raise VllmArgsError("llm.vllm.flags must be the list the llm_profile role derived")

    argv = [f"{venv.rstrip('/')}/bin/vllm", "serve", f"{models_dir.rstrip('/')}/{model_name}"]
    argv += ["--host", host, "--port", str(port), *flags]
    if not enable_thinking:
        argv += ["--default-chat-template-kwargs", json.dumps({"enable_thinking": False})]
    profile_args = _get(llm, "vllm.args") or {}
    args_to_argv(profile_args, "llm.vllm.args")  # validate each source on its own, naming it
    args_to_argv(extra_args, "vllm_service_extra_args")
    argv += args_to_argv(_merge_args(profile_args, extra_args), "llm.vllm.args + vllm_service_extra_args")
    return argv


def build_env(llm, *, extra_env=None):
    """Environment of the unit: llm.vllm.env, then vllm_service_extra_env on top; values as strings."""
    env = {}
    for name, source in (("llm.vllm.env", (_get(llm, "vllm") or {}).get("env")), ("vllm_service_extra_env", extra_env)):
        if source is None:
            continue
        if not isinstance(source, dict):
            raise VllmArgsError(f"{name} must be a mapping of variable name to value")
        for key, value in source.items():
            if not isinstance(key, str) or not _ENV_RE.match(key):
                raise VllmArgsError(f"{name}: {key!r} is not a valid environment variable name")
            if key in _SECRET_ENV:
                raise VllmArgsError(f"{name}.{key}: secrets go through {_SECRET_ENV[key]}, not the unit environment")
            if value is None:
                env.pop(key, None)
                continue
            text = _scalar(value, f"{name}.{key}")
            env[key] = text
    return env


def flag_words(argv):
    """The `--flag` words of argv (for checks against `vllm serve --help=all`)."""
    return [word.split("=", 1)[0] for word in argv if word.startswith("--")]
