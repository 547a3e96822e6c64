"""A flag's walk from the inventory to ExecStart: the README's description (at most 4 files) is checked against the
code, and the real role renders the unit from an inventory override.

The README lists the files in which the flag is named or turned into something else; files that pass the whole
profile along (the llm_profile task, filter wrappers, the role's vars) are plumbing and are not counted."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from support.paths import tool

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
BEGIN, END = "<!-- BEGIN FLAG WALK -->", "<!-- END FLAG WALK -->"
# What each step of the walk must show for max_model_len.
EVIDENCE = ("max_model_len", "max_model_len", "--max-model-len", "ExecStart")


def walk_from_readme() -> list[str]:
    text = README.read_text()
    block = text.split(BEGIN, 1)[1].split(END, 1)[0]
    return re.findall(r"^\d+\. `([^`]+)`", block, re.M)


def test_readme_describes_a_walk_of_at_most_four_files_that_exist():
    files = walk_from_readme()
    assert 2 <= len(files) <= 4, files
    for path, evidence in zip(files, EVIDENCE, strict=False):
        assert evidence in (REPO / path).read_text(), f"{path} does not handle {evidence}"


def test_an_inventory_override_reaches_execstart(tmp_path):
    """The real role's vars and the shared unit template, rendered by Ansible from an inventory value."""
    group_vars = tmp_path / "group_vars"
    group_vars.mkdir()
    (group_vars / "all.yml").write_text(yaml.safe_dump({
        "llm_profile": "cpu-demo",
        "llm_profile_overrides": {"max_model_len": 1536},
        "qwen3_weights": {"models_dir": "/var/lib/qwen3-deploy/models"},
        "ansible_python_interpreter": sys.executable,
    }))
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    localhost:\n      ansible_connection: local\n")
    unit = tmp_path / "qwen3-vllm.service"
    play = tmp_path / "play.yml"
    play.write_text(f"""
- hosts: localhost
  gather_facts: false
  roles: [llm_profile]
  tasks:
    - ansible.builtin.include_vars: {REPO}/roles/vllm_service/defaults/main.yml
    - ansible.builtin.include_vars: {REPO}/roles/vllm_service/vars/main.yml
    - ansible.builtin.template:
        src: {REPO}/templates/systemd_unit.j2
        dest: {unit}
        mode: "0644"
      vars:
        systemd_unit: "{{{{ __vllm_service_unit }}}}"
        systemd_unit_role: vllm_service
""")
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_ROLES_PATH": str(REPO / "roles"),
           "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCALHOST_WARNING": "0"}
    proc = subprocess.run([tool("ansible-playbook"), "-i", str(tmp_path / "hosts.yml"),
                           str(play)], cwd=REPO, capture_output=True, text=True, env=env, timeout=180, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    exec_start = next(line for line in unit.read_text().splitlines() if line.startswith("ExecStart="))
    assert "--max-model-len 1536" in exec_start, exec_start
    assert json.dumps({"enable_thinking": False}).replace('"', '\\"') in exec_start
