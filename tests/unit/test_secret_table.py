"""The README's secret table parses into the e2e test's allow-list and covers every vault option."""

from __future__ import annotations

import yaml
from support import secret_table
from support.paths import REPO


def _vault_options() -> set[str]:
    names = set()
    for spec in (REPO / "roles").glob("*/meta/argument_specs.yml"):
        options = ((yaml.safe_load(spec.read_text())["argument_specs"].get("main") or {}).get("options") or {})
        names |= {name for name, option in options.items() if option.get("no_log")}
    return names


def test_every_vault_secret_has_a_row():
    assert {row["variable"] for row in secret_table.rows()} == _vault_options()


def test_the_allow_list_has_the_first_admin_only_at_the_first_start():
    first, steady = secret_table.allowed_units("first-deploy"), secret_table.allowed_units("steady")
    assert first["open_webui_admin_password"] == {"qwen3-open-webui.service"}
    assert steady["open_webui_admin_password"] == set()
    assert steady["vllm_service_api_key"] == {"qwen3-vllm.service", "qwen3-open-webui.service"}
    assert steady["open_webui_secret_key"] == set() and steady["model_weights_hf_token"] == set()


def test_a_row_the_parser_cannot_read_is_an_error():
    text = ("<!-- secret-table: x -->\n| secret | files | processes | why |\n| --- | --- | --- | --- |\n"
            "| `x_token` | `/etc/x` | somewhere | because |\n")
    try:
        secret_table.rows(text)
    except ValueError as error:
        assert "x_token" in str(error)
    else:
        raise AssertionError("an unreadable processes cell was accepted")
