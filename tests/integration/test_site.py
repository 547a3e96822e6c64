"""End to end: the real site.yml onto a booted Debian 12 systemd host, as an operator runs it.

One host for the whole module, in order: bad input changes nothing; first converge (vLLM CPU build + tiny
model + Open WebUI + verification); a second run changes nothing; check mode changes nothing; switch to the
Ollama profile (the Ollama binary is a STAND-IN, tests/ollama_standin: the real one cannot be downloaded
here) and back, keeping weights and WebUI users.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
HOST = "e2e-1"
TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="module")
def site(testhosts):
    """The e2e host with an inventory directory that reuses the demo inventory's group_vars."""
    group = testhosts("e2e", 1, group="llm_servers")
    inventory_dir = REPO / ".testhosts" / "inventory-e2e.d"
    shutil.rmtree(inventory_dir, ignore_errors=True)
    inventory_dir.mkdir(parents=True)
    shutil.copy(group.inventory, inventory_dir / "hosts.yml")
    (inventory_dir / "group_vars").symlink_to(REPO / "inventories" / "demo" / "group_vars")
    subprocess.run(
        [str(REPO / "scripts" / "make-tiny-model"), "--out", str(REPO / ".cache" / "tiny-qwen3")], check=True
    )
    return group, inventory_dir


@pytest.fixture(scope="module")
def standin_archive():
    """The Ollama STAND-IN archive (test double) and its sha256."""
    out = REPO / ".cache" / "ollama-standin"
    printed = subprocess.run(
        ["python3", str(REPO / "tests" / "ollama_standin" / "build.py"), str(out)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for line in printed.splitlines():
        sha, path = line.split()
        if path.endswith(".tar.zst"):
            return {"ollama_service_archive_src": path, "ollama_service_archive_sha256": sha}
    raise AssertionError(f"no .tar.zst archive in: {printed}")


def timed(name, run_playbook, *args, **kwargs):
    start = time.monotonic()
    result = run_playbook(*args, **kwargs)
    TIMINGS[name] = round(time.monotonic() - start, 1)
    # Kept for the record (the closing note and CI logs report converge times).
    (REPO / "reports").mkdir(exist_ok=True)
    (REPO / "reports" / "e2e-timings.json").write_text(json.dumps(TIMINGS, indent=1))
    return result


def host_sh(group, command: str) -> subprocess.CompletedProcess:
    return group.hosts[0].exec("sh", "-c", command)


def test_bad_input_fails_before_any_host_change(site, run_playbook):
    group, inventory = site
    for extra, message in (
        ({"llm_profile": "nope"}, "llm_profile: unknown profile 'nope'"),
        ({"llm_profile_overrides": {"max_model_len": 0}}, "llm_profile_overrides.max_model_len: must be > 0"),
        ({"open_webui_stream_chunk_size": 0}, "open_webui_stream_chunk_size"),
    ):
        result = run_playbook("site.yml", inventory, extra_vars=extra)
        assert result.rc != 0, result.stdout[-2000:]
        assert message in result.stdout, result.stdout[-3000:]
    untouched = host_sh(group, "test ! -e /etc/qwen3-deploy && test ! -e /etc/pip.conf && echo untouched")
    assert untouched.stdout.strip() == "untouched", untouched


def test_first_converge_serves_and_verifies(site, run_playbook):
    group, inventory = site
    result = timed("first converge", run_playbook, "site.yml", inventory)
    assert result.rc == 0, result.stdout[-5000:]
    assert result.failed() == 0
    active = host_sh(group, "systemctl is-active qwen3-vllm qwen3-open-webui")
    assert active.stdout.split() == ["active", "active"], active
    reports = sorted((REPO / "reports").glob(f"*/{HOST}/*.json"))
    assert reports, "verification wrote no JSON report"


def test_second_run_changes_nothing(site, run_playbook):
    _, inventory = site
    result = timed("second run", run_playbook, "site.yml", inventory)
    assert result.rc == 0, result.stdout[-5000:]
    assert result.changed(HOST) == 0, result.stdout[-8000:]


def test_check_mode_reports_without_changing(site, run_playbook):
    group, inventory = site
    before = host_sh(group, "stat -c %Y /etc/systemd/system/qwen3-vllm.service").stdout
    result = run_playbook("site.yml", inventory, args=("--check",))
    assert result.rc == 0, result.stdout[-5000:]
    assert result.changed(HOST) == 0, result.stdout[-8000:]
    after = host_sh(group, "stat -c %Y /etc/systemd/system/qwen3-vllm.service").stdout
    assert before == after


def latest_results() -> dict:
    newest = sorted((REPO / "reports").glob(f"2*/{HOST}/results.json"))[-1]
    return json.loads(newest.read_text())


def tokens_per_event(results: dict, target: str) -> float:
    return results["summary"]["targets"][target]["stats"]["tokens_per_event"]["p50"]


def test_chunk_size_reaches_the_browser_and_comes_back(site, run_playbook):
    """Inventory 8 -> the browser path (Socket.IO) gets 8 tokens an event; back to 1 -> 1 (real vLLM behind)."""
    _, inventory = site
    eight = run_playbook("playbooks/webui.yml", inventory, extra_vars={"open_webui_stream_chunk_size": 8})
    assert eight.rc == 0, eight.stdout[-5000:]
    measured = run_playbook("playbooks/verify.yml", inventory, extra_vars={"verify_fail_on_threshold": False})
    assert measured.rc == 0, measured.stdout[-5000:]
    results = latest_results()
    assert tokens_per_event(results, "webui-socket") == 8, results["summary"]["targets"]["webui-socket"]["stats"]
    # Open WebUI batches only the browser path; its API passes chunks through (FACTS 6).
    assert tokens_per_event(results, "webui") == 1

    one = run_playbook("site.yml", inventory)  # inventory value 1 again; verification must pass
    assert one.rc == 0, one.stdout[-5000:]
    assert tokens_per_event(latest_results(), "webui-socket") == 1


def signin_works(group) -> bool:
    """The demo admin can still sign in to Open WebUI on the host (its data survived)."""
    payload = json.dumps({"email": "admin@example.com", "password": "demo-admin-password-not-secret"})
    result = host_sh(
        group,
        "curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' "
        f"-d '{payload}' http://127.0.0.1:8080/api/v1/auths/signin",
    )
    return result.stdout.strip() == "200"


def test_switch_to_ollama_and_back_keeps_weights_and_users(site, run_playbook, standin_archive):
    group, inventory = site
    weights = "/var/lib/qwen3-deploy/models/tiny-qwen3/config.json"
    assert host_sh(group, f"test -f {weights}").returncode == 0

    to_ollama = run_playbook("site.yml", inventory, extra_vars={"llm_profile": "ollama-demo", **standin_archive})
    assert to_ollama.rc == 0, to_ollama.stdout[-5000:]
    states = host_sh(group, "systemctl is-active qwen3-vllm ollama; systemctl is-enabled qwen3-vllm").stdout.split()
    assert states == ["inactive", "active", "disabled"], states
    assert host_sh(group, f"test -f {weights}").returncode == 0, "weights were removed by the switch"
    assert signin_works(group), "the WebUI admin did not survive the profile switch"

    back = run_playbook("site.yml", inventory, extra_vars=standin_archive)
    assert back.rc == 0, back.stdout[-5000:]
    states = host_sh(group, "systemctl is-active qwen3-vllm ollama; systemctl is-enabled ollama").stdout.split()
    assert states == ["active", "inactive", "disabled"], states
    assert signin_works(group)
