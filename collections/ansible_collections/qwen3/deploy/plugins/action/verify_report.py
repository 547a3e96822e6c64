"""Action qwen3.deploy.verify_report: on the controller, judge a host's measurement and write its reports.

    - qwen3.deploy.verify_report:
        measured: reports/<run>/<host>/measured.json   # what the host tool wrote, fetched to the controller
        out_dir: reports/<run>/<host>
        thresholds: {ttft_p95_ms: 500, ...}
        plot: true

Writes results.json, summary.md, junit.xml and latency.png (module_utils/verify_report.py) and returns
``failures`` (one dict per missed threshold), ``unreachable`` (targets that could not be reached at all),
``table`` (a readable failure table) and ``lines`` (a short summary for the log). Changes no host.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.qwen3.deploy.plugins.module_utils import verify_report, verify_thresholds


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("measured", "out_dir", "thresholds", "plot", "host"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        try:
            with open(args["measured"], encoding="utf-8") as handle:
                doc = json.load(handle)
        except (OSError, ValueError, KeyError) as error:
            raise AnsibleActionFail(f"cannot read the measurement: {error}") from None
        host = str(args.get("host") or (task_vars or {}).get("inventory_hostname", "host"))
        thresholds = dict(args.get("thresholds") or {})
        fails = verify_report.write_reports(doc, str(args["out_dir"]), host, thresholds, bool(args.get("plot", True)))
        unreachable = verify_thresholds.unreachable(doc["summary"])
        lines = [f"{name}: TTFT p50 {t['stats']['ttft_ms']['p50']} ms, p95 {t['stats']['ttft_ms']['p95']} ms, "
                 f"ok {t['ok']}/{t['attempted']}" for name, t in doc["summary"]["targets"].items()]
        result.update(
            changed=False,
            failures=[asdict(f) for f in fails or []],
            unreachable=unreachable,
            table=verify_thresholds.failure_table(fails) if fails else "",
            lines=lines,
            out_dir=str(args["out_dir"]),
        )
        return result
