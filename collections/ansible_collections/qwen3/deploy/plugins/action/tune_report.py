"""Action qwen3.deploy.tune_report: on the controller, judge a host's capacity curve and write the tuner's report.

    - qwen3.deploy.tune_report:
        points: [{concurrency: 1, status: measured, result: {...}, message: ""}, ...]
        slo: {ttft_ms: 500, tpot_ms: null, good_fraction: 0.95}
        shape: {input_len: 1000, output_len: 256}
        out_dir: reports/<run>/<host>/tune
        overrides: {}          # the host's llm_profile_overrides (the snippet keeps them)
        gpus: {...}            # qwen3_gpus shape (nvidia_smi_facts)
        target_rate: 0         # requests/s at peak for the fleet sizing line (0: none)

Writes tune.json, summary.md, curve.svg and host_vars.yml (module_utils/tuning/report.py) and returns the verdict
(``verdict``, ``recommended``, ``headline``, ``rows``, ``sizing``, ``tuned_for``, ``snippet``, ``lines``).
Changes no host.
"""

from __future__ import annotations

import time

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.qwen3.deploy.plugins.module_utils.plain import plain
from ansible_collections.qwen3.deploy.plugins.module_utils.tuning import report


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("points", "slo", "shape", "out_dir", "overrides", "gpus", "target_rate", "llm", "host"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        task_vars = task_vars or {}
        try:
            out = report.write(
                str(args["out_dir"]),
                host=str(args.get("host") or task_vars.get("inventory_hostname", "host")),
                points=plain(args.get("points") or []),
                slo=plain(args["slo"]),
                shape=plain(args["shape"]),
                llm=plain(args.get("llm") or task_vars.get("llm") or {}),
                gpus=plain(args.get("gpus") or {}),
                overrides=plain(args.get("overrides") or {}),
                date=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                target_rate=float(args.get("target_rate") or 0) or None,
            )
        except (OSError, KeyError, TypeError, ValueError) as error:
            raise AnsibleActionFail(f"cannot write the tuning report: {error}") from None
        result.update(changed=False, **out)
        return result
