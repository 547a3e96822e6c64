"""Input rules of role preflight (see module_utils/inputs.py)."""

from ansible_collections.qwen3.deploy.plugins.module_utils import input_checks as c
from ansible_collections.qwen3.deploy.plugins.module_utils.tuning import provenance


def _overhead(value, values, profile):
    if value in ("", None):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return f"must be empty (built-in estimate) or GiB as a number, got {value!r}"
    return c.number_range(0, 64)(number, values, profile)


def _tuned_for(value, _values, _profile):
    return provenance.check_shape(value)


RULES = {
    "preflight_validate_role_inputs": c.ok,
    "preflight_roles_dir": c.abs_path,
    "preflight_gpu_checks_enabled": c.ok,
    "preflight_nvidia_smi_command": c.word,
    "preflight_vram_overhead_gib": _overhead,
    "preflight_kv_cache_policy": c.ok,
    "preflight_tuned_for": _tuned_for,
    "preflight_disk_check_enabled": c.ok,
    "preflight_models_dir": c.abs_path,
}
