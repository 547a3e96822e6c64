"""Regenerate README's alert table (marker ``<!-- alert-table:``) from module_utils/monitoring/alerts.py, for the
shape tests/unit/test_alert_rules.py checks (every alert: vLLM, Open WebUI paths, router, GPU, weights disk)."""

from __future__ import annotations

from pathlib import Path

from ansible_collections.qwen3.deploy.plugins.module_utils.monitoring import alerts
from unit.test_alert_rules import ALL

README = Path(__file__).resolve().parents[2] / "README.md"


def main() -> None:
    text = README.read_text()
    start = text.index("\n", text.index("<!-- alert-table:")) + 1
    end = text.index("\n\n", start) + 1
    README.write_text(text[:start] + alerts.readme_table(ALL) + text[end:])


if __name__ == "__main__":
    main()
