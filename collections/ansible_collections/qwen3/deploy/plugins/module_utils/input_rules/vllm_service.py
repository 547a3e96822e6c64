"""Input rules of role vllm_service (see module_utils/inputs.py)."""

from ansible_collections.qwen3.deploy.plugins.module_utils import input_checks as c
from ansible_collections.qwen3.deploy.plugins.module_utils import systemd, vllm_args


def _api_key(value, values, profile):
    if profile and profile.get("engine") != "vllm" and value in ("", None):
        return None  # not needed for an Ollama profile
    return c.secret(min_length=8)(value, values, profile)


def _extra_args(value, _values, _profile):
    try:
        vllm_args.args_to_argv(value, "")
    except vllm_args.VllmArgsError as error:
        return str(error).lstrip(": ").lstrip(".")
    return None


def _extra_env(value, _values, profile):
    try:
        vllm_args.build_env({"vllm": {"env": {}}}, extra_env=value)
    except vllm_args.VllmArgsError as error:
        return str(error).replace("vllm_service_extra_env", "").lstrip(": .")
    return None


def _unit_overrides(value, values, profile):
    if not isinstance(value, dict):
        return "must be a mapping of [Service] option: value"
    for key, item in value.items():
        if not isinstance(key, str) or not key.isidentifier():
            return f"{key!r} is not a systemd option name"
        if item is None:
            continue
        try:
            for word in item if isinstance(item, list) else [item]:
                systemd.quote(word, exec_line=False)
        except systemd.UnitValueError as error:
            return f"{key}: {error}"
    return None


def _checks(values, profile):
    """The whole command line must build (owned flags, quoting), for a vLLM profile."""
    if not profile or profile.get("engine") != "vllm" or "flags" not in profile.get("vllm", {}):
        return []
    try:
        argv = vllm_args.build_argv(
            profile, venv=values["vllm_service_venv"], models_dir=values["vllm_service_models_dir"],
            host=values["vllm_service_host"], port=values["vllm_service_port"],
            enable_thinking=values["vllm_service_enable_thinking"], extra_args=values["vllm_service_extra_args"],
        )
        systemd.exec_line(argv)
        vllm_args.build_env(profile, extra_env=values["vllm_service_extra_env"])
    except (vllm_args.VllmArgsError, systemd.UnitValueError, KeyError) as error:
        return [str(error)]
    return []


RULES = {
    "vllm_service_host": c.bind_address,
    "vllm_service_port": c.port,
    "vllm_service_api_key": _api_key,
    "vllm_service_enable_thinking": c.ok,
    "vllm_service_extra_args": _extra_args,
    "vllm_service_extra_env": _extra_env,
    "vllm_service_models_dir": c.abs_path,
    "vllm_service_venv": c.abs_path,
    "vllm_service_python": c.abs_path,
    "vllm_service_cpu_preinstall": c.pip_specs,
    "vllm_service_cpu_remove": c.each(c.word, kind="package name"),
    "vllm_service_pip_extra_args": c.text_line,
    "vllm_service_user": c.system_name,
    "vllm_service_group": c.system_name,
    "vllm_service_user_groups": c.each(c.system_name, kind="group name"),
    "vllm_service_state_dir": c.abs_path,
    "vllm_service_unit_name": c.unit_name,
    "vllm_service_restart_sec": c.int_range(1, 600),
    "vllm_service_timeout_start_sec": c.int_range(10, 86400),
    "vllm_service_health_timeout": c.int_range(10, 86400),
    "vllm_service_min_shm_mib": c.int_range(0, 1048576),
    "vllm_service_journal_lines": c.int_range(1, 2000),
    "vllm_service_unit_overrides": _unit_overrides,
    "vllm_service_rollback": c.ok,
}
CHECKS = [_checks]
