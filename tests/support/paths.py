"""Where things are in this repository, for tests and tools."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CATALOG_FILE = REPO / "roles" / "llm_profile" / "vars" / "profiles.yml"
