"""The README's table of secrets (section "What a deploy never does to a host"), read as the e2e test's allow-list.

Each row: a vault variable, the files that hold it, the processes that hold it (``unit``: environment ``NAME``,
optionally "first start on an empty database only"), and why. ``allowed_units(phase)`` says which units may hold
which secret in their environment: ``"first-deploy"`` (the watcher during the first converge, when Open WebUI's
first start creates the admin) or ``"steady"`` (after a deploy or a rotation). Nothing may be on a command line.
"""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
MARKER = "<!-- secret-table:"
_UNIT = re.compile(r"`([a-z0-9@_.-]+\.service)`: environment `([A-Z_]+)`")


def rows(text: str | None = None) -> list[dict]:
    text = text if text is not None else README.read_text(encoding="utf-8")
    lines = text[text.index(MARKER):].splitlines()[1:]
    table = []
    for raw in lines:
        line = raw.strip()
        if not line.startswith("|"):
            if table:
                break
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if cells[0].startswith("secret") or set(cells[0]) <= {"-", " "}:
            continue
        variable = re.search(r"`([a-z0-9_]+)`", cells[0]).group(1)
        processes = [{"unit": unit, "variable_name": name, "first_start_only": "first start" in cells[2]}
                     for unit, name in _UNIT.findall(cells[2])]
        if not processes and cells[2] != "none":
            raise ValueError(f"README secret table: cannot read the processes of {variable}: {cells[2]!r}")
        table.append({"variable": variable, "files": re.findall(r"`(/[^`]+)`", cells[1]), "processes": processes})
    if not table:
        raise ValueError("README secret table not found after its marker")
    return table


def allowed_units(phase: str, text: str | None = None) -> dict[str, set[str]]:
    """{vault variable: units that may hold it in their environment} for a phase (first-deploy or steady)."""
    allowed: dict[str, set[str]] = {}
    for row in rows(text):
        units = allowed.setdefault(row["variable"], set())
        for process in row["processes"]:
            if phase == "first-deploy" or not process["first_start_only"]:
                units.add(process["unit"])
    return allowed


def files(text: str | None = None) -> set[str]:
    return {path for row in rows(text) for path in row["files"]}
