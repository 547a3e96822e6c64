"""Input rules of role ollama_service (see module_utils/inputs.py)."""

from ansible_collections.qwen3.deploy.plugins.module_utils import input_checks as c
from ansible_collections.qwen3.deploy.plugins.module_utils import modelfile, ollama_env
from ansible_collections.qwen3.deploy.plugins.module_utils.profile import DERIVED

_DERIVED_ENV = {key: home for (mapping, key), home in DERIVED.items() if mapping == "ollama.env"}


def _env(value, _values, _profile):
    if not isinstance(value, dict):
        return "must be a mapping of OLLAMA_* names to values"
    for name, home in _DERIVED_ENV.items():
        if name in value:
            return f"{name} is derived from llm_profile_overrides.{home}; set that instead (one setting, one home)"
    errors = ollama_env.check(value, {}, ollama_env.DEFAULT_HOST, ollama_env.DEFAULT_MODELS_DIR)
    return "; ".join(e.replace(f"{ollama_env.INVENTORY_VAR}.", "") for e in errors) or None


def _host(value, values, profile):
    problem = ollama_env.check_value("OLLAMA_HOST", value)
    return problem or c.host_port(value, values, profile)


def _models_dir(value, values, profile):
    return c.abs_path(value, values, profile) or ollama_env.check_value("OLLAMA_MODELS", value)


def _sha256(value, values, profile):
    return None if value in ("", None) else c.sha256(value, values, profile)


def _archive_src(value, _values, _profile):
    import os  # noqa: PLC0415 - only this rule reads the controller's disk

    if value in ("", None):
        return None
    if not isinstance(value, str) or not os.path.isfile(value):
        return f"{value} is not a file on the controller"
    return None


def _checks(values, profile):
    errors = []
    has_source = values.get("ollama_service_archive_src") or values.get("ollama_service_archive_url")
    if has_source and not values.get("ollama_service_archive_sha256"):
        errors.append(
            "ollama_service_archive_sha256: required with ollama_service_archive_src or ollama_service_archive_url "
            "(the archive's sha256 from the release's sha256sum.txt)"
        )
    if profile and profile.get("engine") == "ollama":
        errors += ollama_env.check(values.get("ollama_service_env"), profile["ollama"]["env"],
                                   values.get("ollama_service_host"), values.get("ollama_service_models_dir"))
        try:
            modelfile.render(profile["model"]["tag"], dict(profile["ollama"]["parameters"]))
        except modelfile.ModelfileError as error:
            errors.append(f"llm_profile_overrides.ollama.parameters: {error}")
    return sorted(set(errors))


RULES = {
    "ollama_service_version": c.version,
    "ollama_service_release_base_url": c.url("http", "https", "file"),
    "ollama_service_archive_url": c.url("http", "https", "file", allow_empty=True),
    "ollama_service_archive_src": _archive_src,
    "ollama_service_archive_sha256": _sha256,
    "ollama_service_host": _host,
    "ollama_service_models_dir": _models_dir,
    "ollama_service_env": _env,
    "ollama_service_groups": c.each(c.system_name, kind="group name"),
    "ollama_service_pull_retries": c.int_range(1, 100),
    "ollama_service_pull_stall_timeout": c.int_range(10, 86400),
    "ollama_service_start_timeout": c.int_range(5, 3600),
    "ollama_service_modelfile_dir": c.abs_path,
    "ollama_service_install_dir": c.abs_path,
    "ollama_service_rollback": c.ok,
}
CHECKS = [_checks]
