"""No secret in a log: every task that handles a vault value (or what was read or computed from one) runs with
no_log, and the runtime watcher used by the end-to-end secrets test really finds a secret in argv or environ."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from support import house_rules as h
from support.proc_watch import unit_of

REPO = Path(__file__).resolve().parents[2]
WATCHER = REPO / "tests" / "support" / "proc_watch.py"


def test_every_task_that_handles_a_secret_has_no_log():
    assert h.secret_tasks_without_no_log(REPO / "roles") == []


def test_the_check_fails_when_a_no_log_is_removed(tmp_path):
    """Positive control: drop no_log from the task that writes the vLLM key file; the check must name it."""
    roles = tmp_path / "roles"
    shutil.copytree(REPO / "roles", roles)
    tasks = roles / "vllm_service" / "tasks" / "service.yml"
    text = tasks.read_text()
    marker = '    mode: "0600"\n  no_log: true\n  register: __vllm_service_env_result'
    assert marker in text
    tasks.write_text(text.replace(marker, '    mode: "0600"\n  register: __vllm_service_env_result'))
    found = h.secret_tasks_without_no_log(roles)
    assert any("Write the API key file" in line and "vllm_service_api_key" in line for line in found), found


def test_only_uris_own_no_log_option_is_exempt(tmp_path):
    """uri keeps url_password out of logs itself (url_argument_spec, no_log=True); the same secret in url_username
    is a leak the check must still name."""
    roles = tmp_path / "roles"
    shutil.copytree(REPO / "roles", roles)
    tasks = roles / "monitoring_server" / "tasks" / "verify.yml"
    text = tasks.read_text()
    marker = 'url_username: "{{ __monitoring_server_client.url_username | default(omit) }}"'
    assert marker in text
    assert h.secret_tasks_without_no_log(roles) == []
    tasks.write_text(text.replace(marker, 'url_username: "{{ monitoring_server_web_password }}"', 1))
    found = h.secret_tasks_without_no_log(roles)
    assert any("monitoring_server_web_password" in line for line in found), found


def _watch(tmp_path, secret: str, *, argv: list[str], env: dict | None = None) -> list[str]:
    secrets = tmp_path / "secrets"
    secrets.write_text(secret + "\n")
    out, stop = tmp_path / "hits.jsonl", tmp_path / "stop"
    watcher = subprocess.Popen([sys.executable, str(WATCHER), str(secrets), str(out), str(stop)])
    try:
        time.sleep(0.3)
        victim = subprocess.Popen(argv, env=env)
        time.sleep(0.5)
        victim.kill()
        victim.wait()
    finally:
        stop.touch()
        watcher.wait(timeout=10)
    return out.read_text().splitlines()


def test_the_watcher_finds_a_key_put_back_on_a_command_line(tmp_path):
    secret = "k3y-" + os.urandom(6).hex()
    lines = _watch(tmp_path, secret, argv=[sys.executable, "-c", "import time; time.sleep(5)", "--api-key", secret])
    assert any('"where": "cmdline"' in line for line in lines), lines
    assert all(secret not in line for line in lines), "the watcher must not write the secret itself"
    done = next(line for line in lines if '"done"' in line)
    assert '"scans"' in done


def test_the_watcher_finds_a_key_in_an_environment(tmp_path):
    secret = "env-" + os.urandom(6).hex()
    lines = _watch(tmp_path, secret, argv=[sys.executable, "-c", "import time; time.sleep(5)"],
                   env={**os.environ, "QWEN3_LATENCY_API_KEY": secret})
    assert any('"where": "environ"' in line for line in lines), lines


def test_the_watcher_names_the_service_that_holds_a_process():
    """The e2e test allows a secret only in the environment of the unit that is handed it; the unit comes from the
    process's cgroup (cgroup v2 and v1 lines as the kernel writes them)."""
    assert unit_of("0::/system.slice/qwen3-vllm.service\n") == "qwen3-vllm.service"
    assert unit_of("12:pids:/system.slice/qwen3-open-webui.service\n1:name=systemd:/system.slice/qwen3-open-webui.service\n") \
        == "qwen3-open-webui.service"
    assert unit_of("0::/system.slice/ssh.service/session.scope\n") == "ssh.service"
    assert unit_of("0::/init.scope\n") == ""
    assert unit_of("") == ""
