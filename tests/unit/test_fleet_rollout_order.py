"""The rolling upgrade visits engines in inventory order. Its group (qwen3_fleet_upgrade) comes from group_by, which
adds hosts in the order their results arrive: on the fleet test the rollout went fleet-1, fleet-3, fleet-2, so
"the second host" was not the second one written down. The play intersects the group with llm_servers; real Ansible
shows here that the intersection keeps llm_servers' order whatever order the group was filled in."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml
from support.paths import tool

REPO = Path(__file__).resolve().parents[2]

PROBE = """
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.add_host: {name: "{{ item }}", groups: qwen3_fleet_upgrade}
      loop: [gpu-3, gpu-1, gpu-2]
- hosts: HOSTS
  gather_facts: false
  serial: 1
  tasks:
    - ansible.builtin.debug: {msg: "visit {{ inventory_hostname }}"}
"""


def rollout_play() -> dict:
    plays = yaml.safe_load((REPO / "playbooks" / "fleet.yml").read_text())
    return next(p for p in plays if str(p.get("name", "")).startswith("Fleet | rolling upgrade"))


def visits(tmp_path: Path, hosts: str) -> list[str]:
    inventory = {"all": {"vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
                         "children": {"llm_servers": {"hosts": {"gpu-1": {}, "gpu-2": {}, "gpu-3": {}}}}}}
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(inventory))
    (tmp_path / "probe.yml").write_text(PROBE.replace("HOSTS", hosts))
    proc = subprocess.run([tool("ansible-playbook"), "-i", str(tmp_path / "hosts.yml"), str(tmp_path / "probe.yml")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [line.split("visit ", 1)[1].strip('" ') for line in proc.stdout.splitlines() if "visit " in line]


def test_the_rollout_play_intersects_its_group_with_llm_servers():
    assert rollout_play()["hosts"] == "llm_servers:&qwen3_fleet_upgrade"


def test_the_intersection_keeps_inventory_order_where_the_group_alone_does_not(tmp_path):
    assert visits(tmp_path, "qwen3_fleet_upgrade") == ["gpu-3", "gpu-1", "gpu-2"]  # the order it was filled in
    assert visits(tmp_path, rollout_play()["hosts"]) == ["gpu-1", "gpu-2", "gpu-3"]
