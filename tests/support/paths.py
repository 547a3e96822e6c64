"""Where things are in this repository, for tests and tools."""

import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CATALOG_FILE = REPO / "roles" / "llm_profile" / "vars" / "profiles.yml"


def tool(name: str) -> str:
    """A console script of the Python running the tests (its venv's bin/), else the one on PATH: tests run from any
    checkout where the requirements are installed, not only from one with .venv/."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else (shutil.which(name) or name)
