"""Action qwen3.deploy.fleet_report: on the controller, write the fleet summary of a verification run.

    - qwen3.deploy.fleet_report:
        run_dir: reports/<run>            # holds <host>/results.json of each engine and of the router host
        hosts: [engine-1, engine-2]
        router: router-1
        steps: [reports/<run>/fleet/bench-c1.json, ...]
        out_dir: reports/<run>/fleet

Writes fleet-summary.md and fleet-summary.json (module_utils/fleet_report.py); returns ``summary``, ``lines`` and
``failed_steps``. Changes no host.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase
from ansible_collections.qwen3.deploy.plugins.module_utils import fleet_report


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("run_dir", "hosts", "router", "steps", "out_dir"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        summary = fleet_report.write(str(args["run_dir"]), [str(h) for h in args.get("hosts") or []],
                                     str(args["router"]), [str(p) for p in args.get("steps") or []],
                                     str(args["out_dir"]))
        result.update(changed=False, summary=summary, lines=fleet_report.markdown(summary).splitlines(),
                      failed_steps=summary["failed_steps"])
        return result
