"""ollama_service role on a booted test host, against the Ollama STAND-IN (tests/ollama_standin/).

The real Ollama cannot be downloaded here, so the role installs the stand-in archive (same layout:
bin/ollama + lib/ollama/, built by tests/ollama_standin/build.py) through its air-gapped path
(`ollama_service_archive_src` + `ollama_service_archive_sha256`), with profile `ollama-demo`.

Proved here (one host, `ol-1`, runs in order):
- retire on a host that never had Ollama: rc 0, changed 0;
- a bad OLLAMA_* name fails before any change and names `ollama_service_env: <NAME>`; nothing was installed;
- check mode on the fresh host: rc 0, nothing installed;
- apply: binary, user (groups render, video), unit + drop-in (env reaches the process), pull, Modelfile,
  create; /api/chat streams without `thinking` for `think: false`, with it for `think: true`;
- rerun: changed 0 and no restart (same MainPID);
- a PARAMETER change re-creates the model, no restart; an env change restarts, no pull/create;
- a pull that breaks off mid-stream is retried until `success`;
- retire: stopped + disabled, models stay; twice: changed 0; apply again: back up without a pull;
- a new pinned version reinstalls (marker), the running server reports it;
- the release-mirror path: archive + the release's sha256sum.txt; a wrong sum fails before the install is touched.
What the stand-in cannot prove (real Ollama on a GPU server only): the real archive URL/checksum, GPU
offload, that Ollama's Go template engine renders our TEMPLATE as intended, and real TTFT/decode speed.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_collections.qwen3.deploy.plugins.module_utils import modelfile

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "tests" / "ollama_standin" / "build.py"
PREFIX = "ol"
VERSION = "0.34.4"
MODEL = "qwen3-demo-nothink"
MODELFILE = f"/etc/qwen3-deploy/ollama/{MODEL}.Modelfile"
DROPIN = "/etc/systemd/system/ollama.service.d/10-qwen3-deploy.conf"
PLAY = """- name: ollama_service test ({tasks})
  hosts: all
  become: true
  pre_tasks:
    - name: Resolve the profile
      ansible.builtin.include_role:
        name: llm_profile
    - name: Check the role's inputs before anything changes (as preflight does)
      ansible.builtin.include_role:
        name: ollama_service
        tasks_from: validate
  tasks:
    - name: Wire in the host tools (ollama-pull)
      ansible.builtin.include_role:
        name: host_tools
        tasks_from: publish
    - name: Run ollama_service ({tasks})
      ansible.builtin.include_role:
        name: ollama_service
        tasks_from: {tasks}
"""
BASE = """- name: Host base and the host tools (once per test host)
  hosts: all
  become: true
  roles:
    - role: llm_profile
    - role: host_base
    - role: host_tools
"""
# What the demo inventory gives every host: this machine's egress CA and the CPU torch wheelhouse for pip.
SITE = {
    "host_base_ca_certificates": [str(p) for p in sorted(Path("/usr/local/share/ca-certificates").glob("*.crt"))],
    "host_base_pip_find_links": ["/opt/wheels"],
}


def build_archive(out: Path, version: str) -> tuple[Path, str]:
    proc = subprocess.run(
        [sys.executable, str(BUILD), str(out), "--version", version], capture_output=True, text=True, check=True
    )
    for line in proc.stdout.splitlines():
        sha, path = line.split(maxsplit=1)
        if path.endswith(".tar.zst"):
            return Path(path), sha
    raise AssertionError(proc.stdout)


@pytest.fixture(scope="module")
def env(testhosts, tmp_path_factory, run_playbook):
    tmp = tmp_path_factory.mktemp("ollama")
    archive, sha = build_archive(tmp / "v1", VERSION)
    plays = {}
    for tasks in ("main", "retire"):
        plays[tasks] = tmp / f"{tasks}.yml"
        plays[tasks].write_text(PLAY.format(tasks=tasks))
    group = testhosts(PREFIX, 1)
    (tmp / "base.yml").write_text(BASE)
    base = {
        **SITE,
        "llm_profile": "ollama-demo",
        "ollama_service_archive_src": str(archive),
        "ollama_service_archive_sha256": sha,
    }
    prepared = run_playbook(tmp / "base.yml", group.inventory, base, timeout=1200)
    assert prepared.rc == 0, prepared.stdout[-3000:]
    return {"group": group, "host": group.hosts[0], "plays": plays, "base": base, "tmp": tmp}


def run(env, run_playbook, tasks="main", extra=None, args=()):
    return run_playbook(env["plays"][tasks], env["group"].inventory, {**env["base"], **(extra or {})}, args=args)


def task_status(stdout: str, name: str) -> str | None:
    """Status line ("ok", "changed", "skipping", "fatal") of the last task whose name starts with `name`."""
    status = None
    for block in stdout.split("\nTASK [")[1:]:
        header, _, rest = block.partition("\n")
        if header.split(" : ", 1)[-1].startswith(name):
            for line in rest.splitlines():
                word = line.split(":", 1)[0]
                if word in ("ok", "changed", "skipping", "fatal"):
                    status = word
                    break
    return status


def sh(host, command: str) -> str:
    proc = host.exec("sh", "-c", command)
    return proc.stdout.strip()


def main_pid(host) -> str:
    return sh(host, "systemctl show -p MainPID --value ollama.service")


def api(host, method: str, path: str, body: dict | None = None) -> list[dict]:
    data = f"-d '{json.dumps(body)}'" if body is not None else ""
    out = sh(host, f"curl -sS -N -X {method} http://127.0.0.1:11434{path} {data}")
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_retire_on_a_host_without_ollama(env, run_playbook):
    result = run(env, run_playbook, "retire")
    assert result.rc == 0, result.stdout[-3000:]
    assert result.changed() == 0


def test_bad_env_name_fails_before_any_change(env, run_playbook):
    result = run(env, run_playbook, extra={"ollama_service_env": {"GGML_CUDA_NMMU_BLOCKS": 4}})
    assert result.rc != 0
    assert "ollama_service_env: GGML_CUDA_NMMU_BLOCKS: unknown Ollama variable" in result.stdout
    assert "OLLAMA_NUM_PARALLEL" in result.stdout  # the message lists the valid names
    assert result.changed() == 0
    host = env["host"]
    assert host.exec("test", "-e", "/usr/local/bin/ollama").returncode != 0
    assert host.exec("id", "ollama").returncode != 0


def test_bad_kv_cache_combination_fails(env, run_playbook):
    result = run(env, run_playbook, extra={"ollama_service_env": {"OLLAMA_KV_CACHE_TYPE": "q8_0"}})
    assert result.rc != 0 and result.changed() == 0
    assert "ollama_service_env: OLLAMA_KV_CACHE_TYPE: q8_0 needs flash attention" in result.stdout


def test_check_mode_on_fresh_host_changes_nothing(env, run_playbook):
    result = run(env, run_playbook, args=("--check",))
    assert result.rc == 0, result.stdout[-3000:]
    host = env["host"]
    assert host.exec("test", "-e", "/usr/local/bin/ollama").returncode != 0
    assert host.exec("test", "-e", DROPIN).returncode != 0


def test_a_first_deploy_that_fails_stops_the_server_and_says_so(env, run_playbook):
    """Nothing to roll back to: the crash-looping server (its port is sshd's, so bind fails) is found within
    seconds, stopped and disabled, and the run says so."""
    result = run(env, run_playbook, extra={"ollama_service_host": "127.0.0.1:22"})
    assert result.rc != 0
    assert "FIRST DEPLOY FAILED: no earlier release of ollama.service to roll back to" in result.stdout
    detected = float(re.search(r"is not healthy: .*? after ([0-9.]+) s", result.stdout).group(1))
    assert detected < 30, detected
    host = env["host"]
    assert sh(host, "systemctl is-active ollama.service") != "active"
    assert sh(host, "systemctl is-enabled ollama.service") == "disabled"


def test_apply_installs_tunes_pulls_and_creates(env, run_playbook):
    result = run(env, run_playbook)
    assert result.rc == 0, result.stdout[-3000:]
    assert result.changed() > 0
    host = env["host"]
    assert "stand-in" in sh(host, "/usr/local/bin/ollama --version")
    assert sh(host, f"test -f /opt/qwen3-deploy/ollama/{VERSION}/lib/ollama/README-STANDIN && echo yes") == "yes"
    groups = sh(host, "id -nG ollama").split()
    assert {"ollama", "render", "video"} <= set(groups)
    assert sh(host, "getent passwd ollama | cut -d: -f6") == "/usr/share/ollama"
    assert sh(host, "systemctl is-active ollama.service") == "active"
    assert sh(host, "systemctl is-enabled ollama.service") == "enabled"
    assert sh(host, "systemctl show -p ExecStart --value ollama.service").startswith(
        f"{{ path=/opt/qwen3-deploy/ollama/{VERSION}/bin/ollama")
    dropin = sh(host, f"cat {DROPIN}")
    assert "# role: ollama_service" in dropin and "Ansible managed" in dropin
    assert "Environment=OLLAMA_NUM_PARALLEL=1" in dropin
    assert "Environment=OLLAMA_HOST=127.0.0.1:11434" in dropin
    (version,) = api(host, "GET", "/api/version")
    assert version["version"] == VERSION and version["standin"] is True
    assert version["env"]["OLLAMA_CONTEXT_LENGTH"] == "2048"  # the drop-in reached the process
    assert version["env"]["OLLAMA_MODELS"] == "/usr/share/ollama/.ollama/models"
    names = [m["name"] for m in api(host, "GET", "/api/tags")[0]["models"]]
    assert sorted(names) == ["qwen3-demo-nothink:latest", "qwen3:0.6b"]
    text = sh(host, f"cat {MODELFILE}")
    assert modelfile.check(text) == []
    assert modelfile.parameters_of(text)["num_ctx"] == ["2048"]
    (show,) = api(host, "POST", "/api/show", {"model": MODEL})
    assert "<think>\n\n</think>\n\n" in show["template"]
    assert "thinking" not in show["capabilities"]
    lines = api(
        host,
        "POST",
        "/api/chat",
        {
            "model": MODEL,
            "messages": [{"role": "user", "content": "hi"}],
            "think": False,
            "options": {"num_predict": 5},
        },
    )
    assert lines[-1]["done"] is True and lines[-1]["eval_count"] == 5 and len(lines) > 2  # streamed, then done
    assert "".join(line["message"]["content"] for line in lines) == "This is a stand-in"
    assert all("thinking" not in line["message"] for line in lines)
    (refused,) = api(
        host,
        "POST",
        "/api/chat",
        {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "think": True, "options": {"num_predict": 2}},
    )
    assert refused == {"error": f'"{MODEL}" does not support thinking'}  # upstream's 400 for a non-thinking model


def test_rerun_changes_nothing_and_does_not_restart(env, run_playbook):
    pid = main_pid(env["host"])
    result = run(env, run_playbook)
    assert result.rc == 0, result.stdout[-3000:]
    assert result.changed() == 0, result.stdout[-3000:]
    assert main_pid(env["host"]) == pid
    check = run(env, run_playbook, args=("--check",))
    assert check.rc == 0 and check.changed() == 0, check.stdout[-3000:]


def test_parameter_change_recreates_without_restart(env, run_playbook):
    host = env["host"]
    pid = main_pid(host)
    result = run(env, run_playbook, extra={"llm_profile_overrides": {"ollama": {"parameters": {"temperature": 0.6}}}})
    assert result.rc == 0, result.stdout[-3000:]
    assert task_status(result.stdout, "Write the Modelfile") == "changed"
    assert task_status(result.stdout, "Create the non-thinking model") == "changed"
    assert task_status(result.stdout, "Pull qwen3") == "skipping"
    assert task_status(result.stdout, "Write the tuning drop-in") == "ok"
    assert main_pid(host) == pid
    (show,) = api(host, "POST", "/api/show", {"model": MODEL})
    assert "0.6" in [line.split()[1] for line in show["parameters"].splitlines() if line.startswith("temperature")]


def test_env_change_restarts_without_pull_or_create(env, run_playbook):
    host = env["host"]
    pid = main_pid(host)
    extra = {
        "llm_profile_overrides": {"ollama": {"parameters": {"temperature": 0.6}}},
        "ollama_service_env": {"OLLAMA_KEEP_ALIVE": "24h"},
    }
    result = run(env, run_playbook, extra=extra)
    assert result.rc == 0, result.stdout[-3000:]
    assert task_status(result.stdout, "Restart ollama.service for the new release") == "changed"
    assert main_pid(host) != pid
    (version,) = api(host, "GET", "/api/version")
    assert version["env"]["OLLAMA_KEEP_ALIVE"] == "24h"
    assert task_status(result.stdout, "Pull qwen3") == "skipping"
    assert task_status(result.stdout, "Create the non-thinking model") == "skipping"
    # the drop-in, the restart and the release pending verification
    assert result.changed() == 3, result.stdout[-3000:]


def test_broken_pull_is_retried(env, run_playbook):
    host = env["host"]
    # Stand-in only knob (not an Ollama variable): its first pull breaks off mid-stream.
    sh(
        host,
        "printf '[Service]\\nEnvironment=OLLAMA_STANDIN_PULL_FAILURES=1\\n' "
        "> /etc/systemd/system/ollama.service.d/90-standin-test.conf && systemctl daemon-reload "
        "&& systemctl restart ollama.service && sleep 1",
    )
    try:
        result = run(env, run_playbook, extra={"llm_profile_overrides": {"model": {"tag": "qwen3:1.7b"}}}, args=("-v",))
        assert result.rc == 0, result.stdout[-3000:]
        assert "simulated connection reset" in result.stdout  # attempt 1 failed ...
        assert '"attempts": 2' in result.stdout  # ... attempt 2 succeeded
        names = [m["name"] for m in api(host, "GET", "/api/tags")[0]["models"]]
        assert "qwen3:1.7b" in names
    finally:
        sh(
            host,
            "rm -f /etc/systemd/system/ollama.service.d/90-standin-test.conf && systemctl daemon-reload "
            "&& systemctl restart ollama.service",
        )


def test_retire_stops_and_keeps_models(env, run_playbook):
    host = env["host"]
    result = run(env, run_playbook, "retire")
    assert result.rc == 0, result.stdout[-3000:]
    assert result.changed() == 1
    assert sh(host, "systemctl is-active ollama.service") == "inactive"
    assert sh(host, "systemctl is-enabled ollama.service") == "disabled"
    assert sh(host, "ls /usr/share/ollama/.ollama/models/manifests/registry.ollama.ai/library") != ""
    again = run(env, run_playbook, "retire")
    assert again.rc == 0 and again.changed() == 0


def test_new_version_reinstalls_and_comes_back_without_pull(env, run_playbook):
    archive, sha = build_archive(env["tmp"] / "v2", "0.34.5")
    extra = {
        "ollama_service_version": "0.34.5",
        "ollama_service_archive_src": str(archive),
        "ollama_service_archive_sha256": sha,
    }
    result = run(env, run_playbook, extra=extra)
    assert result.rc == 0, result.stdout[-3000:]
    assert task_status(result.stdout, "Unpack the archive") == "changed"
    assert task_status(result.stdout, "Pull qwen3") == "skipping"
    host = env["host"]
    assert sh(host, "systemctl is-active ollama.service") == "active"
    assert sh(host, "systemctl is-enabled ollama.service") == "enabled"
    (version,) = api(host, "GET", "/api/version")
    assert version["version"] == "0.34.5"
    assert "version=0.34.5" in sh(host, "cat /opt/qwen3-deploy/ollama/0.34.5/.qwen3-deploy-install")
    again = run(env, run_playbook, extra=extra)
    assert again.rc == 0 and again.changed() == 0, again.stdout[-3000:]


def test_release_mirror_is_checked_against_its_sha256sum_txt(env, run_playbook):
    """The official-URL path (no ollama_service_archive_sha256): archive and the release's sha256sum.txt from a
    mirror of the releases tree, served on the test host's own 127.0.0.1; a wrong sum fails before the
    installed Ollama is touched."""
    host = env["host"]
    archive, sha = build_archive(env["tmp"] / "v3", "0.34.6")
    release = "/srv/ol-mirror/v0.34.6"
    sh(host, f"mkdir -p {release}")
    subprocess.run(["docker", "cp", str(archive), f"{host.name}:{release}/{archive.name}"], check=True)
    sums = f"{release}/sha256sum.txt"
    sh(host, f"printf '%s  ./ollama-linux-arm64.tar.zst\\n%s  ./{archive.name}\\n' {'0' * 64} {'f' * 64} > {sums}")
    sh(host, "systemd-run --unit=ol-mirror python3 -m http.server 18080 --bind 127.0.0.1 --directory /srv/ol-mirror")
    extra = {
        "ollama_service_version": "0.34.6",
        "ollama_service_archive_src": "",
        "ollama_service_archive_sha256": "",
        "ollama_service_release_base_url": "http://127.0.0.1:18080/",
    }
    try:
        bad = run(env, run_playbook, extra=extra)
        assert bad.rc != 0
        assert task_status(bad.stdout, "Download http://127.0.0.1:18080/v0.34.6/ollama-linux-amd64.tar.zst") == "fatal"
        assert "checksum" in bad.stdout.lower()
        assert api(host, "GET", "/api/version")[0]["version"] == "0.34.5"  # still the old install
        sh(host, f"printf '%s  ./ollama-linux-arm64.tar.zst\\n%s  ./{archive.name}\\n' {'0' * 64} {sha} > {sums}")
        good = run(env, run_playbook, extra=extra)
        assert good.rc == 0, good.stdout[-3000:]
        assert task_status(good.stdout, "Unpack the archive") == "changed"
        assert api(host, "GET", "/api/version")[0]["version"] == "0.34.6"
        again = run(env, run_playbook, extra=extra)
        assert again.rc == 0 and again.changed() == 0, again.stdout[-3000:]
    finally:
        sh(host, "systemctl stop ol-mirror.service")
