"""Host-state suite (pytest-testinfra). Runs only when pointed at hosts, e.g.::

    PATH=$PWD/.venv/bin:$PATH .venv/bin/pytest tests/testinfra \
        --hosts=ansible://llm_servers --ansible-inventory=inventories/demo/hosts.yml

(testinfra's ansible backend calls ``ansible-inventory`` from PATH, hence the venv on PATH.)

Without ``--hosts`` every test here is skipped (testinfra would otherwise inspect this machine).
"""

from __future__ import annotations

import pytest
from ansible_collections.qwen3.deploy.plugins.module_utils import profile as profiles
from support.paths import CATALOG_FILE


def pytest_collection_modifyitems(config, items):
    if config.getoption("hosts", None):
        return
    skip = pytest.mark.skip(reason="host-state suite: give --hosts=ansible://GROUP --ansible-inventory=FILE")
    for item in items:
        if "tests/testinfra/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(skip)


def _plain(value, default):
    """Inventory value, or the default when missing or still a Jinja expression."""
    if value is None or (isinstance(value, str) and "{{" in value):
        return default
    return value


@pytest.fixture(scope="module")
def hostvars(host):
    return host.ansible.get_variables()


@pytest.fixture(scope="module")
def llm(hostvars):
    """The profile the inventory asks for, resolved exactly as role llm_profile does."""
    overrides = _plain(hostvars.get("llm_profile_overrides"), {})
    return profiles.resolve(profiles.load_catalog(CATALOG_FILE), hostvars.get("llm_profile"), overrides)


@pytest.fixture(scope="module")
def expect(hostvars, llm):
    """Expected host state from the inventory (defaults from docs/ARCHITECTURE.md)."""
    v = hostvars
    ollama_bind = str(_plain(v.get("ollama_service_host"), "127.0.0.1:11434"))  # OLLAMA_HOST form, host:port
    ollama_host, _, ollama_port = ollama_bind.rpartition(":")
    return {
        "engine": llm["engine"],
        "vllm_host": _plain(v.get("vllm_service_host"), "127.0.0.1"),
        "vllm_port": int(_plain(v.get("vllm_service_port"), 8000)),
        "ollama_host": ollama_host.strip("[]") or "127.0.0.1",
        "ollama_port": int(ollama_port or 11434),
        "webui_enabled": bool(_plain(v.get("open_webui_enabled"), True)),
        "webui_host": _plain(v.get("open_webui_host"), "127.0.0.1"),
        "webui_port": int(_plain(v.get("open_webui_port"), 8080)),
        "models_dir": _plain(v.get("model_weights_dir"), "/var/lib/qwen3-deploy/models"),
        "vllm_api_key": _plain(v.get("vllm_service_api_key"), ""),
    }
