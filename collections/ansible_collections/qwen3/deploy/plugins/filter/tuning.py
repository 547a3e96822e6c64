"""Filters of the capacity tuner (role engine_tuner, playbooks/tune.yml) and of preflight's provenance check.
The logic lives in module_utils/tuning/.

    {{ engine_tuner_max_seqs | qwen3.deploy.tuning_grid(engine_tuner_min_seqs) }}    -> [1, 2, 4, ...]
    {{ llm.thresholds | combine(...) | qwen3.deploy.tuning_slo }}                   -> {ttft_ms, tpot_ms, good_fraction}
    {{ qwen3_host_tools.argv | qwen3.deploy.tuning_capacity_argv(qwen3_engine, concurrency=8, ...) }} -> argv
    {{ base | qwen3.deploy.tuning_seed(concurrency, attempt) }}                     -> int
    {{ point | qwen3.deploy.tuning_check_point(slo) }}                              -> {passed, why}
    {{ preflight_tuned_for | qwen3.deploy.tuning_provenance_warnings(llm, qwen3_gpus, gpus_known) }} -> [lines]
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.qwen3.deploy.plugins.module_utils.plain import plain as _plain
from ansible_collections.qwen3.deploy.plugins.module_utils.tuning import provenance, report, sweep


def tuning_grid(bound, start=1):
    try:
        return sweep.grid(int(bound), int(start))
    except (sweep.TuningError, ValueError, TypeError) as error:
        raise AnsibleFilterError(str(error)) from None


def tuning_slo(thresholds):
    try:
        return sweep.slo(_plain(thresholds or {}))
    except sweep.TuningError as error:
        raise AnsibleFilterError(str(error)) from None


def tuning_capacity_argv(tool_argv, engine, *, concurrency, prompts, warmups, input_len, output_len, seed, slo,
                         timeout, result_dir):
    return sweep.capacity_argv(_plain(tool_argv), _plain(engine), concurrency=int(concurrency),
                               prompts=int(prompts), warmups=int(warmups), input_len=int(input_len),
                               output_len=int(output_len), seed_value=int(seed), slo_values=_plain(slo),
                               timeout=int(timeout), result_dir=str(result_dir))


def tuning_seed(base, concurrency, attempt=0):
    return sweep.seed(int(base), int(concurrency), int(attempt))


def tuning_check_point(point, slo):
    return report.check_point(_plain(point), _plain(slo))


def tuning_provenance_warnings(tuned_for, llm, gpus, gpus_known=True):
    return provenance.mismatches(_plain(tuned_for or {}), _plain(llm or {}), _plain(gpus or {}),
                                 gpus_known=bool(gpus_known))


class FilterModule:
    def filters(self):
        return {
            "tuning_grid": tuning_grid,
            "tuning_slo": tuning_slo,
            "tuning_capacity_argv": tuning_capacity_argv,
            "tuning_seed": tuning_seed,
            "tuning_check_point": tuning_check_point,
            "tuning_provenance_warnings": tuning_provenance_warnings,
        }
