"""ansible-playbook runner and PLAY RECAP parser (used by tests/conftest.py's ``run_playbook`` fixture)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .common import REPO_ROOT

RECAP_RE = re.compile(r"^(?P<host>\S+)\s+:\s+(?P<counts>(?:\w+=\d+\s*)+)$")


def parse_play_recap(stdout: str) -> dict[str, dict[str, int]]:
    """``{host: {"ok": n, "changed": n, "unreachable": n, "failed": n, "skipped": n, "rescued": n,
    "ignored": n}}`` from the PLAY RECAP block of ansible-playbook output (last recap wins)."""
    recap: dict[str, dict[str, int]] = {}
    in_recap = False
    for raw in stdout.splitlines():
        line = re.sub(r"\x1b\[[0-9;]*m", "", raw).strip()
        if line.startswith("PLAY RECAP"):
            in_recap, recap = True, {}
            continue
        if in_recap:
            match = RECAP_RE.match(line)
            if match:
                recap[match["host"]] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", match["counts"])}
            elif line:
                in_recap = False
    return recap


@dataclass
class PlaybookResult:
    """Outcome of one ansible-playbook run."""

    rc: int
    stdout: str
    stderr: str
    recap: dict[str, dict[str, int]]
    argv: list[str]

    def changed(self, host: str | None = None) -> int:
        """Changed tasks on ``host`` (or summed over all hosts)."""
        hosts = [host] if host else list(self.recap)
        return sum(self.recap.get(h, {}).get("changed", 0) for h in hosts)

    def failed(self, host: str | None = None) -> int:
        """Failed + unreachable tasks on ``host`` (or summed over all hosts)."""
        hosts = [host] if host else list(self.recap)
        return sum(self.recap.get(h, {}).get("failed", 0) + self.recap.get(h, {}).get("unreachable", 0) for h in hosts)


def run_playbook(
    playbook: str | Path,
    inventory: str | Path,
    extra_vars: dict | None = None,
    *,
    args: list[str] | tuple[str, ...] = (),
    timeout: float = 1800,
    env: dict[str, str] | None = None,
) -> PlaybookResult:
    """Run ``.venv/bin/ansible-playbook`` from the repo root (so ansible.cfg applies).

    ``extra_vars`` is passed as one JSON ``-e``; ``args`` are appended (e.g. ``["--check", "--diff"]``,
    ``["--limit", "h-1"]``, ``["--tags", "x"]``). Output is not colored. ``timeout`` bounds the run.
    """
    binary = Path(sys.executable).parent / "ansible-playbook"
    if not binary.exists():
        binary = REPO_ROOT / ".venv" / "bin" / "ansible-playbook"
    argv = [str(binary if binary.exists() else "ansible-playbook"), "-i", str(inventory), str(playbook)]
    if extra_vars:
        argv += ["-e", json.dumps(extra_vars)]
    argv += list(args)
    run_env = {**os.environ, "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1", "PY_COLORS": "0"}
    run_env.setdefault("ANSIBLE_CONFIG", str(REPO_ROOT / "ansible.cfg"))
    run_env.update(env or {})
    proc = subprocess.run(
        argv, cwd=REPO_ROOT, capture_output=True, text=True, check=False, timeout=timeout, env=run_env
    )
    return PlaybookResult(proc.returncode, proc.stdout, proc.stderr, parse_play_recap(proc.stdout), argv)

