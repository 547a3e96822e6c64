"""The house plan (docs/ARCHITECTURE.md), enforced: roles talk through published facts, Python is split by where
it runs with no file over 400 lines and no import cycle, specs and defaults agree, READMEs come from the specs."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support import house_rules as h

REPO = Path(__file__).resolve().parents[2]
ROLES = REPO / "roles"
MAX_LINES = 400


def test_no_role_reads_another_roles_variables():
    found = h.cross_role_references(ROLES)
    assert not found, "\n".join(f"{role} reads {ref.name} ({ref.file}: {ref.context})" for role, ref in found)


def test_the_cross_role_check_fails_when_a_reference_is_added_back(tmp_path):
    """Positive control: put back what verify used to read (vllm_service_api_key) and the check must find it."""
    copy = tmp_path / "roles"
    shutil.copytree(ROLES, copy)
    tasks = copy / "verify" / "tasks" / "main.yml"
    tasks.write_text(tasks.read_text() + (
        "\n- name: Read another role's variable\n"
        "  ansible.builtin.debug:\n"
        "    msg: \"{{ vllm_service_api_key }} {{ lookup('ansible.builtin.vars', 'open_webui_port') }}\"\n"
        "  when: hostvars[inventory_hostname]['model_weights_dir'] is defined\n"
    ))
    found = {(role, ref.name) for role, ref in h.cross_role_references(copy)}
    assert {("verify", "vllm_service_api_key"), ("verify", "open_webui_port"), ("verify", "model_weights_dir")} <= found


def test_parameters_passed_to_an_included_role_are_not_reads():
    refs = h.variable_references(ROLES / "vllm_service")
    assert not [r for r in refs if r.name.startswith("service_release_")]


def test_no_product_python_file_is_over_400_lines():
    big = {str(p.relative_to(REPO)): n for p in h.product_python_files(REPO)
           if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not big, big


def test_no_import_cycle_in_product_python():
    assert h.import_cycles(REPO) == []


def test_the_cycle_check_finds_a_cycle(tmp_path):
    pkg = tmp_path / "hosttools" / "cyc"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from cyc import b\n")
    (pkg / "b.py").write_text("from cyc.a import x\n")
    assert h.import_cycles(tmp_path)


def test_no_sys_path_tricks_in_product_python_or_scripts():
    offenders = [str(p.relative_to(REPO)) for p in h.product_python_files(REPO) if h.SYS_PATH.search(p.read_text())]
    offenders += [str(p.relative_to(REPO)) for p in (REPO / "scripts").rglob("*")
                  if p.is_file() and "sys.path" in p.read_text(errors="ignore")]
    assert not offenders, offenders


def test_test_modules_have_unique_basenames():
    """pytest imports test modules by basename (rootdir mode, no packages): two files of one name stop the whole
    collection, as CI found for tests/unit/test_collection.py and tests/integration/test_collection.py."""
    seen: dict[str, list[str]] = {}
    for path in (REPO / "tests").rglob("test_*.py"):
        if "node_modules" not in path.parts:
            seen.setdefault(path.name, []).append(str(path.relative_to(REPO)))
    assert not {name: paths for name, paths in seen.items() if len(paths) > 1}


def _spec_options(role: Path) -> dict:
    spec = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    options = {}
    for entry in spec.values():
        options.update(entry.get("options") or {})
    return options


@pytest.mark.parametrize("role", sorted(p.name for p in ROLES.iterdir() if (p / "tasks").is_dir()))
def test_spec_defaults_equal_defaults_main(role):
    """On ansible-core 2.19 a spec default is documentation only: it must say what defaults/main.yml does."""
    defaults = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text()) or {}
    options = _spec_options(ROLES / role)
    assert set(options) == set(defaults), f"spec options vs defaults/main.yml: {set(options) ^ set(defaults)}"
    wrong = {name: (option.get("default"), defaults[name]) for name, option in options.items()
             if option.get("default") != defaults[name]}
    assert not wrong, wrong


@pytest.mark.parametrize("role", sorted(p.name for p in ROLES.iterdir() if (p / "tasks").is_dir()))
def test_every_role_has_input_rules_for_every_option(role):
    from ansible_collections.qwen3.deploy.plugins.module_utils import inputs

    rules, _ = inputs.rules_for(role)
    options = _spec_options(ROLES / role)
    assert set(rules) == set(options), f"rules vs options: {set(rules) ^ set(options)}"


def test_role_readmes_are_generated_from_the_specs():
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "dev" / "role-docs.py"), "--check"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def _binds_a_port(name: str, option: dict, default) -> bool:
    """An option that sets where a service listens: named like a port, or HOST:PORT by default."""
    return name.endswith(("_port", "_ports")) or (isinstance(default, str) and bool(re.fullmatch(r"[^:\s]+:[0-9]+", default)))


def test_every_option_that_binds_a_port_is_in_the_port_registry():
    """One registry (module_utils/ports.py) of every option that makes one of our services bind a port: preflight
    checks collisions and foreign holders from it, so an option missing there would go unchecked."""
    from ansible_collections.qwen3.deploy.plugins.module_utils import ports

    registered = {entry.option: entry.role for entry in ports.REGISTRY}
    found = {}
    for role in sorted(p for p in ROLES.iterdir() if (p / "meta" / "argument_specs.yml").is_file()):
        defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text()) or {}
        for name, option in _spec_options(role).items():
            if _binds_a_port(name, option, defaults.get(name)) and name not in ports.NOT_BINDING:
                found[name] = role.name
    assert found == registered, f"port options vs ports.REGISTRY: {set(found.items()) ^ set(registered.items())}"


def test_the_port_registry_check_sees_a_new_port_option():
    assert _binds_a_port("monitoring_prometheus_port", {"type": "int"}, 9090)
    assert _binds_a_port("ollama_service_host", {"type": "str"}, "127.0.0.1:11434")
    assert not _binds_a_port("vllm_service_host", {"type": "str"}, "127.0.0.1")
