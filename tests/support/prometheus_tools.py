"""Prometheus' own checkers for tests: promtool and amtool from Debian 12's packages, unpacked by scripts/bootstrap
into .cache/prometheus-tools (FACTS §13: prometheus 2.42.0, prometheus-alertmanager 0.25.0)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from support.paths import REPO

TOOLS = REPO / ".cache" / "prometheus-tools" / "usr" / "bin"


def tool(name: str) -> str:
    """The unpacked tool, else one on PATH; a missing tool is an error, not a skip (bootstrap provides it)."""
    path = TOOLS / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"{name} not found: run scripts/bootstrap (it unpacks Debian's prometheus packages)")
    return found


def run(name: str, *args: str, cwd: Path | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([tool(name), *args], cwd=cwd, input=stdin, capture_output=True, text=True, timeout=120,
                          check=False)
