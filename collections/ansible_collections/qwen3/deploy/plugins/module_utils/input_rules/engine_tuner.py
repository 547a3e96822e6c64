"""Input rules of role engine_tuner (playbooks/tune.yml; see module_utils/inputs.py)."""

from ansible_collections.qwen3.deploy.plugins.module_utils import input_checks as c
from ansible_collections.qwen3.deploy.plugins.module_utils.input_rules.verify import RULES as VERIFY_RULES
from ansible_collections.qwen3.deploy.plugins.module_utils.tuning import sweep


def _min_seqs(value, values, profile):
    message = c.int_range(1, 4096)(value, values, profile)
    if message:
        return message
    return None if value & (value - 1) == 0 else f"must be a power of two, got {value}"


def _max_seqs(value, values, profile):
    message = c.int_range(1, 4096)(value, values, profile)
    if message:
        return message
    low = values.get("engine_tuner_min_seqs")
    if isinstance(low, int) and not isinstance(low, bool) and value < low:
        return f"must be >= engine_tuner_min_seqs ({low}), got {value}"
    return None


def _output_len(value, values, profile):
    message = c.int_range(1, 1_000_000)(value, values, profile)
    if message or not profile:
        return message
    total = value + (values.get("engine_tuner_input_len") or 0)
    limit = profile.get("max_model_len")
    if isinstance(limit, int) and isinstance(total, int) and total > limit:
        return (f"engine_tuner_input_len + engine_tuner_output_len = {total} tokens exceed the profile's "
                f"max_model_len {limit}")
    return None


def _thresholds(value, values, profile):
    message = VERIFY_RULES["verify_thresholds"](value, values, profile)
    if message or not value:
        return message
    merged = {**((profile or {}).get("thresholds") or {}), **value}
    try:
        sweep.slo(merged)
    except sweep.TuningError as error:
        return f"{error} (the tuner's SLO)"
    return None


def _guard_after(value, values, profile):
    message = c.int_range(60, 86400)(value, values, profile)
    if message:
        return message
    point = values.get("engine_tuner_point_timeout")
    if isinstance(point, int) and not isinstance(point, bool) and value <= point:
        return (f"{value} s is not more than one point's load may take (engine_tuner_point_timeout {point} s): "
                "the guard would restore in the middle of a point")
    return None


def _overrides(value, _values, _profile):
    # max_num_seqs in it is fine: each sweep point replaces it, the snippet writes the recommendation.
    return None if isinstance(value, dict) else "must be a dict (the host's llm_profile_overrides)"


def _rate(value, values, profile):
    return c.number_range(0, 1_000_000)(value, values, profile)


RULES = {
    "engine_tuner_min_seqs": _min_seqs,
    "engine_tuner_max_seqs": _max_seqs,
    "engine_tuner_input_len": c.int_range(1, 1_000_000),
    "engine_tuner_output_len": _output_len,
    "engine_tuner_prompts_per_seq": c.int_range(1, 1000),
    "engine_tuner_min_prompts": c.int_range(1, 100_000),
    "engine_tuner_warmups": c.int_range(0, 1000),
    "engine_tuner_seed": c.int_range(0, 2**31 - 1),
    "engine_tuner_thresholds": _thresholds,
    "engine_tuner_stop_at_first_miss": c.ok,
    "engine_tuner_point_timeout": c.int_range(10, 86400),
    "engine_tuner_guard_after": _guard_after,
    "engine_tuner_health_timeout": c.int_range(5, 86400),
    "engine_tuner_allow_serving": c.ok,
    "engine_tuner_behind_router": c.ok,
    "engine_tuner_profile_overrides": _overrides,
    "engine_tuner_target_requests_per_s": _rate,
    "engine_tuner_report_dir": c.abs_path,
    "engine_tuner_run_id": VERIFY_RULES["verify_run_id"],
    "engine_tuner_state_dir": c.abs_path,
    "engine_tuner_release_state_dir": c.abs_path,
    "engine_tuner_nvidia_smi_command": c.word,
}
