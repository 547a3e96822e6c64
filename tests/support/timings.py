"""Seconds a test module measured, kept in reports/<file> (rewritten after every measurement, so an interrupted run
keeps what it measured)."""

from __future__ import annotations

import json
from collections.abc import Callable

from support.paths import REPO


def recorder(filename: str) -> Callable[[str, float], None]:
    """``record(name, seconds)`` writing every recorded value to ``reports/<filename>``."""
    timings: dict[str, float] = {}

    def record(name: str, seconds: float) -> None:
        timings[name] = round(seconds, 1)
        (REPO / "reports").mkdir(exist_ok=True)
        (REPO / "reports" / filename).write_text(json.dumps(timings, indent=1))

    return record
