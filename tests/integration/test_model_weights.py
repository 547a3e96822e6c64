"""model_weights role, for real, on a booted test host (``mw-1``).

* prestaged directory from the controller (the cpu-demo profile): check mode changes nothing, apply
  copies the tiny model byte for byte, rerun changed=0;
* prestaged .tar.gz with a top-level directory (strip 1): same rhythm; the same archive already on
  the host (model_weights_prestaged_remote_src): apply, then unchanged;
* hf: FakeHub (tests/support/fake_hub.py, a test double of the Hugging Face Hub) runs inside the
  test host on its own 127.0.0.1 with a required token; the host tools' venv holds huggingface_hub
  (PyPI through host_base's pip config), downloads the pinned commit, writes the marker; rerun
  changed=0; the token is in a 0600 file and never in the output; a removed file is fetched again;
  a wrong token fails with a message naming the cause.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
from support import tiny_model

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PREFIX = "mw"
HOST = f"{PREFIX}-1"
MODELS = "/var/lib/qwen3-deploy/models"
TOKEN = "hf_mw_test_double_token_5678"
HUB_PORT = 18080
HUB_DIR = "/srv/fakehub"
REPO_ID = "Qwen/Tiny-Qwen3"
PATTERNS = ["*.safetensors", "*.json", "tokenizer*"]

PLAYBOOK = """---
- name: Model weights (test)
  hosts: all
  become: true
  roles:
    - role: llm_profile
  tasks:
    - name: Wire in the host tools (hf-fetch)
      ansible.builtin.include_role:
        name: host_tools
        tasks_from: publish
    - name: Model weights
      ansible.builtin.include_role:
        name: model_weights
"""
BASE_PLAYBOOK = """---
- name: Host base and the host tools (test)
  hosts: all
  become: true
  roles:
    - role: llm_profile
    - role: host_base
    - role: host_tools
"""


def ca_files() -> list[str]:
    return sorted(str(p) for p in Path("/usr/local/share/ca-certificates").glob("*.crt"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("mw") / "tiny"
    tiny_model.write_model(out)
    return out


@pytest.fixture(scope="module")
def playbook(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("mw-play") / "weights.yml"
    path.write_text(PLAYBOOK)
    return path


@pytest.fixture(scope="module")
def host(testhosts, run_playbook, tmp_path_factory):
    group = testhosts(PREFIX, 1)
    base = tmp_path_factory.mktemp("mw-base") / "base.yml"
    base.write_text(BASE_PLAYBOOK)
    result = run_playbook(base, group.inventory, {"host_base_ca_certificates": ca_files(), "llm_profile": "cpu-demo"},
                          timeout=900)
    assert result.rc == 0, result.stdout[-3000:]
    return group


def sha256_local(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in directory.iterdir() if p.is_file()}


def sha256_remote(host, directory: str, names) -> dict[str, str]:
    proc = host.exec("sh", "-c", f"cd {directory} && sha256sum {' '.join(sorted(names))}")
    assert proc.returncode == 0, proc.stderr
    return {line.split()[1]: line.split()[0] for line in proc.stdout.splitlines()}


def four_step(run_playbook, playbook, group, extra, dest) -> list:
    """check (changed, nothing written), apply (changed), apply again (unchanged), check (unchanged)."""
    host = group.hosts[0]
    host.exec("rm", "-rf", dest)  # a kept host (KEEP_TESTHOSTS=1) starts this test from scratch too
    results = []
    check = run_playbook(playbook, group.inventory, extra, args=["--check"])
    assert check.rc == 0, check.stdout[-3000:]
    assert check.changed(HOST) > 0
    assert host.exec("test", "-e", dest).returncode != 0, "check mode must not create the model dir"
    for expect_changed in (True, False):
        result = run_playbook(playbook, group.inventory, extra)
        assert result.rc == 0, result.stdout[-4000:]
        assert (result.changed(HOST) > 0) is expect_changed, result.stdout[-4000:]
        results.append(result)
    again = run_playbook(playbook, group.inventory, extra, args=["--check"])
    assert again.rc == 0 and again.changed(HOST) == 0, again.stdout[-3000:]
    return results


def test_prestaged_directory(host, run_playbook, playbook, tiny):
    dest = f"{MODELS}/tiny-qwen3"
    four_step(run_playbook, playbook, host, {"llm_profile": "cpu-demo", "model_weights_prestaged_src": str(tiny)}, dest)
    want = sha256_local(tiny)
    assert sha256_remote(host.hosts[0], dest, want) == want


def test_prestaged_archive_with_top_dir(host, run_playbook, playbook, tiny, tmp_path):
    archive = tmp_path / "tiny-qwen3.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tiny, arcname="tiny-qwen3")
    dest = f"{MODELS}/tiny-archive"
    extra = {
        "llm_profile": "cpu-demo",
        "llm_profile_overrides": {"model": {"name": "tiny-archive"}},
        "model_weights_prestaged_src": str(archive),
        "model_weights_prestaged_strip_components": 1,
    }
    four_step(run_playbook, playbook, host, extra, dest)
    want = sha256_local(tiny)
    assert sha256_remote(host.hosts[0], dest, want) == want


def test_prestaged_archive_on_the_host(host, run_playbook, playbook, tiny):
    """model_weights_prestaged_remote_src: an archive already on the target (apply, then unchanged)."""
    h = host.hosts[0]
    assert h.exec("mkdir", "-p", "/srv/prestaged/tiny-qwen3").returncode == 0
    for p in tiny.iterdir():
        cp = subprocess.run(
            ["docker", "cp", str(p), f"{h.name}:/srv/prestaged/tiny-qwen3/{p.name}"], capture_output=True, check=False
        )
        assert cp.returncode == 0, cp.stderr
    assert h.exec("tar", "-C", "/srv/prestaged", "-czf", "/srv/prestaged/tiny.tgz", "tiny-qwen3").returncode == 0
    dest = f"{MODELS}/tiny-remote"
    h.exec("rm", "-rf", dest)
    extra = {
        "llm_profile": "cpu-demo",
        "llm_profile_overrides": {"model": {"name": "tiny-remote"}},
        "model_weights_prestaged_remote_src": "/srv/prestaged/tiny.tgz",
        "model_weights_prestaged_strip_components": 1,
    }
    first = run_playbook(playbook, host.inventory, extra)
    assert first.rc == 0 and first.changed(HOST) > 0, first.stdout[-3000:]
    again = run_playbook(playbook, host.inventory, extra)
    assert again.rc == 0 and again.changed(HOST) == 0, again.stdout[-3000:]
    want = sha256_local(tiny)
    assert sha256_remote(h, dest, want) == want


@pytest.fixture(scope="module")
def fake_hub_in_host(host, tiny):
    """FakeHub on the test host's 127.0.0.1, serving the tiny model; yields its commit."""
    h = host.hosts[0]
    assert h.exec("mkdir", "-p", f"{HUB_DIR}/tiny").returncode == 0
    for src, dst in [(REPO / "tests" / "support" / "fake_hub.py", f"{HUB_DIR}/fake_hub.py")] + [
        (p, f"{HUB_DIR}/tiny/{p.name}") for p in tiny.iterdir()
    ]:
        cp = subprocess.run(["docker", "cp", str(src), f"{h.name}:{dst}"], capture_output=True, text=True, check=False)
        assert cp.returncode == 0, cp.stderr
    start = (
        f"nohup python3 {HUB_DIR}/fake_hub.py --repo {REPO_ID}={HUB_DIR}/tiny --port {HUB_PORT} "
        f"--token {TOKEN} --ready-file {HUB_DIR}/ready.json > {HUB_DIR}/hub.log 2>&1 &"
    )
    assert h.exec("sh", "-c", start).returncode == 0
    deadline = time.monotonic() + 30
    info = None
    while time.monotonic() < deadline:
        proc = h.exec("cat", f"{HUB_DIR}/ready.json")
        if proc.returncode == 0 and proc.stdout.strip():
            info = json.loads(proc.stdout)
            break
        time.sleep(0.5)
    assert info, h.exec("cat", f"{HUB_DIR}/hub.log").stdout
    yield info["commits"][REPO_ID]
    h.exec("kill", str(info["pid"]))


def hf_extra(commit: str, name: str, token: str = TOKEN) -> dict:
    return {
        "llm_profile": "cpu-demo",
        "llm_profile_overrides": {
            "model": {"source": "hf", "name": name, "repo_id": REPO_ID, "revision": commit, "allow_patterns": PATTERNS}
        },
        "model_weights_hf_endpoint": f"http://127.0.0.1:{HUB_PORT}",
        "model_weights_hf_token": token,
        "model_weights_poll_interval": 2,
        "model_weights_retry_delay": 1,
        "model_weights_retries": 1,
    }


def test_hf_download_from_fake_hub(host, run_playbook, playbook, tiny, fake_hub_in_host):
    commit = fake_hub_in_host
    h = host.hosts[0]
    dest = f"{MODELS}/tiny-hf"
    results = four_step(run_playbook, playbook, host, hf_extra(commit, "tiny-hf"), dest)
    for r in results:
        assert TOKEN not in r.stdout and TOKEN not in r.stderr
    want = sha256_local(tiny)
    assert sha256_remote(h, dest, want) == want
    marker = json.loads(h.exec("cat", f"{dest}/.qwen3-deploy-download.json").stdout)
    assert marker["commit"] == commit and marker["repo_id"] == REPO_ID
    assert set(marker["files"]) == set(want)
    token_file = h.exec("stat", "-c", "%a %U", "/etc/qwen3-deploy/hf-token.env").stdout.split()
    assert token_file == ["600", "root"]
    log = h.exec("cat", "/var/log/qwen3-deploy/model-weights.log").stdout
    assert "done: 5 files" in log and TOKEN not in log

    # a lost file: the marker no longer holds, the next run fetches it again (and only then is changed)
    assert h.exec("rm", f"{dest}/model.safetensors").returncode == 0
    again = run_playbook(playbook, host.inventory, hf_extra(commit, "tiny-hf"))
    assert again.rc == 0 and again.changed(HOST) > 0, again.stdout[-3000:]
    assert sha256_remote(h, dest, want) == want


def test_hf_wrong_token_fails_clearly(host, run_playbook, playbook, fake_hub_in_host):
    bad = "hf_mw_not_the_right_token_0000"
    result = run_playbook(playbook, host.inventory, hf_extra(fake_hub_in_host, "tiny-hf-denied", token=bad))
    assert result.rc != 0
    assert "access denied" in result.stdout, result.stdout[-3000:]
    assert bad not in result.stdout and bad not in result.stderr
