"""preflight on a booted test host without a GPU (``pf-1``).

* a GPU profile (vllm-fp8) is refused in preflight, naming the host, and a changing play after it
  (host_base) never runs: recap changed=0 and no file on the host is newer than a marker written before;
* cpu-demo passes preflight (GPU checks skipped, loudly) and changes nothing;
* a bad profile override and a bad value for another role's input fail naming the variable;
* ports: two of our services on one (address, port), and a port held by a foreign process (sshd, a decoy), are
  refused in preflight naming both variables (or the process), and the host does not change.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration

PREFIX = "pf"
HOST = f"{PREFIX}-1"
MARKER = "/root/pf-marker"
# Written while a playbook runs, whatever the roles do: ansible's own temp dirs, the journal, caches.
NOISE = (
    "/proc/",
    "/sys/",
    "/run/",
    "/tmp/",
    "/dev/",
    "/root/.ansible/",
    "/var/log/",
    "/var/cache/",
    "/var/lib/systemd/",
)

# The vault variables the roles' own checks require (test values, not secrets).
SECRETS = {
    "model_weights_prestaged_src": str(Path(__file__).resolve().parents[1]),  # any existing directory will do
    "vllm_service_api_key": "test-only-vllm-key-not-secret",
    "open_webui_admin_email": "admin@example.invalid",
    "open_webui_admin_password": "test-only-password-not-secret",
}

PLAYBOOK = """---
- name: Preflight
  ansible.builtin.import_playbook: {repo}/playbooks/preflight.yml

- name: A play that changes the host (must never run after a refusal)
  hosts: all
  become: true
  roles:
    - role: host_base
"""


@pytest.fixture(scope="module")
def host(testhosts):
    return testhosts(PREFIX, 1, group="llm_servers")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from support.testhosts import REPO_ROOT

    path = tmp_path_factory.mktemp("pf") / "site.yml"
    path.write_text(PLAYBOOK.format(repo=REPO_ROOT))
    return path


def files_newer_than_marker(node) -> list[str]:
    proc = node.exec("find", "/", "-xdev", "-newer", MARKER, "-type", "f")
    assert proc.returncode == 0, proc.stderr
    return sorted(line for line in proc.stdout.splitlines() if line != MARKER and not line.startswith(NOISE))


def test_gpu_profile_is_refused_before_any_change(host, site, run_playbook):
    node = host.hosts[0]
    assert node.exec("touch", MARKER).returncode == 0
    time.sleep(1.1)
    result = run_playbook(site, host.inventory, {"llm_profile": "vllm-fp8", **SECRETS})
    assert result.rc != 0, result.stdout[-3000:]
    assert f"profile vllm-fp8 needs an NVIDIA GPU; nvidia-smi found none on {HOST}" in result.stdout
    assert "A play that changes the host" not in result.stdout
    assert result.changed(HOST) == 0
    assert files_newer_than_marker(node) == []


def test_missing_vault_secret_fails_in_preflight(host, run_playbook):
    without_key = {name: value for name, value in SECRETS.items() if name != "vllm_service_api_key"}
    result = run_playbook("playbooks/preflight.yml", host.inventory, {"llm_profile": "cpu-demo", **without_key})
    assert result.rc != 0
    assert "vllm_service_api_key: must be set (from the vault)" in result.stdout


def test_cpu_demo_passes_and_changes_nothing(host, run_playbook):
    result = run_playbook("playbooks/preflight.yml", host.inventory, {"llm_profile": "cpu-demo", **SECRETS})
    assert result.rc == 0, result.stdout[-3000:]
    assert "profile cpu-demo runs on cpu: GPU checks skipped" in result.stdout
    assert "Stop on bad input, problems found 0" in result.stdout
    assert result.changed(HOST) == 0


def test_bad_profile_override_fails_naming_the_variable(host, run_playbook):
    result = run_playbook(
        "playbooks/preflight.yml",
        host.inventory,
        {"llm_profile": "cpu-demo", "llm_profile_overrides": {"max_num_seqs": 0}, **SECRETS},
    )
    assert result.rc != 0
    assert "llm_profile_overrides.max_num_seqs" in result.stdout


def test_bad_input_of_another_role_fails_before_anything_changes(host, site, run_playbook):
    result = run_playbook(site, host.inventory, {"llm_profile": "cpu-demo", "open_webui_port": "eighty", **SECRETS})
    assert result.rc != 0
    assert "open_webui_port: argument" in result.stdout and "unable to convert to int" in result.stdout
    assert "A play that changes the host" not in result.stdout
    assert result.changed(HOST) == 0


# (case, extra vars, whether the host is also a router, texts the refusal must contain)
PORT_CASES = [  # the decoy's case first: the test stops the decoy after it
    ("a foreign process (decoy)", {}, False,
     ["vllm_service_port: port 8000 on vllm_service_host 127.0.0.1 is already held on this host by python3",
      "unit qwen3-test-decoy.service"]),
    ("engine/WebUI", {"vllm_service_port": 8080}, False,
     ["vllm_service_port: port 8080 on vllm_service_host 127.0.0.1 collides with open_webui_port"]),
    ("WebUI/nginx (wildcard covers loopback)", {"webui_proxy_enabled": True, "webui_proxy_port": 8080,
                                                "webui_proxy_host": "0.0.0.0"}, False,
     ["open_webui_port: port 8080 on open_webui_host 127.0.0.1 collides with webui_proxy_port "
      "(port 8080 on webui_proxy_host 0.0.0.0)"]),
    ("engine/sshd", {"vllm_service_port": 22}, False,
     [re.compile(r"vllm_service_port: port 22 on vllm_service_host 127\.0\.0\.1 is already held on this host by "
                 r"(sshd|ssh\.socket) \(pid")]),  # the test host's sshd is socket-activated: ssh.socket
    ("router/router metrics", {"llm_router_port": 29000}, True,
     ["llm_router_port: port 29000 on llm_router_host 127.0.0.1 collides with llm_router_metrics_port"]),
]
DECOY = ("import http.server as h; h.HTTPServer(('127.0.0.1', 8000), h.SimpleHTTPRequestHandler).serve_forever()")


def _router_inventory(host, tmp_path: Path) -> Path:
    """The same host in llm_routers too: preflight then checks the router's ports on it."""
    inventory = yaml.safe_load(Path(host.inventory).read_text())
    inventory["all"]["children"]["llm_routers"] = {"hosts": {HOST: None}}
    path = tmp_path / "router-too.yml"
    path.write_text(yaml.safe_dump(inventory))
    return path


def test_ports_that_cannot_be_bound_are_refused_before_any_change(host, run_playbook, tmp_path):
    node = host.hosts[0]
    assert node.exec("touch", MARKER).returncode == 0
    time.sleep(1.1)
    assert node.exec("systemd-run", "--unit=qwen3-test-decoy", "python3", "-c", DECOY).returncode == 0
    try:
        for case, extra, router, expected in PORT_CASES:
            if "decoy" not in case:
                node.exec("systemctl", "stop", "qwen3-test-decoy")
            inventory = _router_inventory(host, tmp_path) if router else host.inventory
            result = run_playbook("playbooks/preflight.yml", inventory, {"llm_profile": "cpu-demo", **SECRETS, **extra})
            assert result.rc != 0, f"{case}: accepted\n{result.stdout[-3000:]}"
            for text in expected:
                found = text.search(result.stdout) if isinstance(text, re.Pattern) else text in result.stdout
                assert found, f"{case}: {text!r} not in\n{result.stdout[-4000:]}"
            assert result.changed(HOST) == 0, case
    finally:
        node.exec("systemctl", "stop", "qwen3-test-decoy")
        node.exec("systemctl", "reset-failed", "qwen3-test-decoy")
    assert files_newer_than_marker(node) == []
