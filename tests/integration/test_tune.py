"""Capacity tuning end to end (playbooks/tune.yml) on one CPU demo host (real vLLM CPU build, tiny model, no Open
WebUI): the tests run in file order, each on the state the previous one left.

1. deploy (site.yml, demo group_vars; Open WebUI off: the tuner does not need it)
2. measure first: an SLO nothing reaches reports "not binding up to 8" with the whole curve
3. a TTFT threshold between two measured points (the adjacent pair with the widest gap, between concurrency 1 and 8)
   recommends the lower one, in the middle of the grid; the snippet and the plot are written
4. an SLO no point meets: a clear message, the known good release serves again
5. an interrupted tune (ansible-playbook killed with SIGKILL mid-sweep: no rescue, no always): the host's guard
   timer restores the known good release by itself
6. a second run with the same inputs and tune_apply=true lands within one grid step, applies it, verifies and
   re-verifies under load at the recommended concurrency; the known good release is then the recommendation
7. preflight accepts the snippet and warns when its provenance no longer matches

Long (33 minutes for the whole module in its first full run on 2 busy cores: deploy 11 min, each tune 4-7 min;
24 minutes alone on the machine, tests/records/tune-2026-12-07-cpu-demo.md):
opt in with QWEN3_TUNE_TESTS=1. Timings go to reports/tune-test.json. On a machine shared with other test runs the
TTFT of one point moved 3x between runs (c=1: 20 ms, then 68 ms), which can move the answer by more than one step.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from support import host_checks as hc

REPO = Path(__file__).resolve().parents[2]
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.environ.get("QWEN3_TUNE_TESTS") != "1",
                       reason="capacity tuner e2e (long on 2 cores): set QWEN3_TUNE_TESTS=1 to run it"),
]
HOST = "tune-1"
GRID_TOP = 8
# Small on purpose: 2 shared cores. A chat-like prompt (1,000 tokens) with short answers keeps prefill, where
# concurrency shows in TTFT, and keeps each point short. At least 20 requests a point: one slow request (other
# tests share the cores) still leaves 95 % good.
TUNE = {
    "engine_tuner_min_seqs": 1, "engine_tuner_max_seqs": GRID_TOP, "engine_tuner_input_len": 1000,
    # 60 prompts a point, not 20: a point's load lasts ~2 s here, and one scheduling hiccup slowed 3 of 20 requests
    # of the re-verification (85 % good, TTFT p95 84 ms against 64.4) where the sweep had measured that point at
    # 44-56 ms. 95 % of 60 tolerates such a burst; the bench's start-up (~7 s) still dominates a point's time.
    "engine_tuner_output_len": 32, "engine_tuner_prompts_per_seq": 3, "engine_tuner_min_prompts": 60,
    "engine_tuner_warmups": 4, "engine_tuner_point_timeout": 300, "engine_tuner_guard_after": 900,
    "engine_tuner_allow_serving": True, "engine_tuner_target_requests_per_s": 5,
    "verify_requests": 8, "verify_warmup": 1,
}
RECORD: dict = {}


def record(name: str, value) -> None:
    RECORD[name] = value
    (REPO / "reports").mkdir(exist_ok=True)
    (REPO / "reports" / "tune-test.json").write_text(json.dumps(RECORD, indent=1))


@pytest.fixture(scope="module")
def site(testhosts):
    group = testhosts("tune", 1, group="llm_servers")
    inventory_dir = REPO / ".testhosts" / "inventory-tune.d"
    shutil.rmtree(inventory_dir, ignore_errors=True)
    (inventory_dir / "host_vars").mkdir(parents=True)
    shutil.copy(group.inventory, inventory_dir / "hosts.yml")
    (inventory_dir / "group_vars").symlink_to(REPO / "inventories" / "demo" / "group_vars")
    (inventory_dir / "host_vars" / f"{HOST}.yml").write_text(
        # The demo runs the engine at Nice 15 for the browser path's sake; the tuner measures the engine itself, and
        # at Nice 15 every other test on these 2 cores moved its TTFT p95 by 4x between runs (35 -> 148 ms at c=1).
        yaml.safe_dump({"open_webui_enabled": False, "webui_proxy_enabled": False, "verify_webui_paths": [],
                        "vllm_service_unit_overrides": {}}))
    subprocess.run([str(REPO / "scripts" / "make-tiny-model"), "--out", str(REPO / ".cache" / "tiny-qwen3")], check=True)
    return group.hosts[0], inventory_dir


def tune(run_playbook, inventory, run_id: str, **extra):
    started = time.monotonic()
    result = run_playbook("playbooks/tune.yml", inventory, extra_vars={**TUNE, "engine_tuner_run_id": run_id, **extra},
                          timeout=3600)
    record(f"{run_id} seconds", round(time.monotonic() - started, 1))
    return result


def report(run_id: str) -> dict:
    return json.loads((REPO / "reports" / run_id / HOST / "tune" / "tune.json").read_text())


def serving_seqs(host) -> int:
    """max_num_seqs of the running engine's command line."""
    line = hc.unit_show(host, "qwen3-vllm.service", "ExecStart")["ExecStart"]
    return int(re.search(r"--max-num-seqs (\d+)", line).group(1))


def good_seqs(host) -> int:
    """max_num_seqs of the known good release (module release's good copy of the unit)."""
    text = hc.sh(host, "cat /var/lib/qwen3-deploy/releases/qwen3-vllm.service/good/0").stdout
    return int(re.search(r"--max-num-seqs (\d+)", text).group(1))


def guard_status(host) -> dict:
    out = hc.sh(host, "python3 /var/lib/qwen3-deploy/tune/tune_guard.py status "
                      "--slot /var/lib/qwen3-deploy/releases/qwen3-vllm.service/good "
                      "--marker /var/lib/qwen3-deploy/tune/in-progress.json").stdout
    return json.loads(out)


def assert_known_good_serves(host, seqs: int) -> None:
    assert guard_status(host)["live_is_good"], "the live release is not the known good one"
    assert hc.sh(host, "systemctl is-active qwen3-vllm").stdout.strip() == "active"
    hc.wait_http(host, "http://127.0.0.1:8000/health", timeout=240)
    assert serving_seqs(host) == seqs
    assert hc.sh(host, "test -e /var/lib/qwen3-deploy/releases/qwen3-vllm.service/pending; echo $?").stdout.strip() == "1"
    assert hc.sh(host, "systemctl is-active qwen3-tune-guard.timer").stdout.strip() != "active", "guard left armed"


def test_deploy(site, run_playbook):
    host, inventory = site
    started = time.monotonic()
    result = run_playbook("site.yml", inventory, extra_vars={"verify_requests": 8, "verify_warmup": 1}, timeout=2700)
    record("deploy seconds", round(time.monotonic() - started, 1))
    assert result.rc == 0, hc.ansible_messages(result.stdout)[-5000:]
    assert serving_seqs(host) == 4 == good_seqs(host)  # cpu-demo's max_num_seqs


def test_measure_first_an_slo_nothing_reaches_is_not_binding(site, run_playbook):
    host, inventory = site
    result = tune(run_playbook, inventory, "tune-measure", verify_thresholds={"ttft_p95_ms": 600000})
    assert result.rc == 0, hc.ansible_messages(result.stdout)[-5000:]
    doc = report("tune-measure")
    rows = doc["judged"]["rows"]
    assert [r["concurrency"] for r in rows] == [1, 2, 4, 8]
    assert doc["judged"]["verdict"] == "not_binding" and doc["judged"]["recommended"] == GRID_TOP
    assert f"SLO not binding up to {GRID_TOP}" in result.stdout
    record("measured curve", [{k: r[k] for k in ("concurrency", "ttft_p95_ms", "output_tokens_per_s",
                                                 "good_requests_per_s", "preemptions")} for r in rows])
    assert_known_good_serves(host, 4)


def threshold_between(rows: list[dict]) -> tuple[float, int]:
    """A TTFT threshold between two adjacent measured points: the pair with the widest ratio (least likely to
    flip on noise), the geometric mean of their TTFT p95; the lower point is the expected answer. Pairs whose
    lower point is above the grid's bottom come first, so the answer lies inside the grid, not at its end."""
    pairs = [(b["ttft_p95_ms"] / a["ttft_p95_ms"], a, b) for a, b in itertools.pairwise(rows)
             if a["ttft_p95_ms"] and b["ttft_p95_ms"] and b["ttft_p95_ms"] > a["ttft_p95_ms"]]
    assert pairs, f"TTFT does not grow with concurrency on this host: {rows}"
    inside = [p for p in pairs if p[1]["concurrency"] > rows[0]["concurrency"] and p[0] >= 1.5]
    _ratio, low, high = max(inside or pairs, key=lambda p: p[0])
    return round(math.sqrt(low["ttft_p95_ms"] * high["ttft_p95_ms"]), 1), low["concurrency"]


def test_a_threshold_between_the_ends_recommends_the_middle(site, run_playbook):
    host, inventory = site
    rows = report("tune-measure")["judged"]["rows"]
    threshold, expected = threshold_between(rows)
    record("threshold", {"ttft_p95_ms": threshold, "expected": expected})
    result = tune(run_playbook, inventory, "tune-binding", verify_thresholds={"ttft_p95_ms": threshold})
    assert result.rc == 0, hc.ansible_messages(result.stdout)[-5000:]
    doc = report("tune-binding")
    record("binding", {"recommended": doc["judged"]["recommended"], "first_miss": doc["judged"]["first_miss"],
                       "rows": [(r["concurrency"], r["ttft_p95_ms"], r["passed"]) for r in doc["judged"]["rows"]]})
    assert doc["judged"]["verdict"] == "binding"
    assert 1 <= doc["judged"]["recommended"] < GRID_TOP
    assert abs(math.log2(doc["judged"]["recommended"]) - math.log2(expected)) <= 1
    out = REPO / "reports" / "tune-binding" / HOST / "tune"
    snippet = yaml.safe_load((out / "host_vars.yml").read_text())
    assert snippet["llm_profile_overrides"]["max_num_seqs"] == doc["judged"]["recommended"]
    assert snippet["preflight_tuned_for"]["profile"] == "cpu-demo"
    assert (out / "curve.svg").read_text().startswith("<svg")
    assert "such hosts" in (out / "summary.md").read_text()
    assert_known_good_serves(host, 4)


def test_an_slo_no_point_meets_says_so_and_the_good_release_serves(site, run_playbook):
    host, inventory = site
    result = tune(run_playbook, inventory, "tune-none", verify_thresholds={"ttft_p95_ms": 0.5})
    assert result.rc != 0
    assert "NO POINT MET THE SLO" in result.stdout
    assert "the last good release (max_num_seqs 4) serves again" in result.stdout
    assert_known_good_serves(host, 4)


def test_an_interrupted_tune_is_restored_by_the_hosts_guard(site):
    host, inventory = site
    guard_after = 150
    argv = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), "playbooks/tune.yml",
            "-e", json.dumps({**TUNE, "engine_tuner_run_id": "tune-interrupted", "engine_tuner_point_timeout": 60,
                              "engine_tuner_guard_after": guard_after,
                              "verify_thresholds": {"ttft_p95_ms": 600000}})]
    log = (REPO / "reports" / "tune-interrupted.log").open("w")
    proc = subprocess.Popen(argv, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")})
    try:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:  # until a sweep point's release is live
            if proc.poll() is not None:
                pytest.fail(f"the tune ended before it could be interrupted (rc {proc.returncode})")
            status = guard_status(host) if hc.sh(host, "test -x /var/lib/qwen3-deploy/tune/tune_guard.py").returncode \
                == 0 else {}
            if status.get("marker") and not status.get("live_is_good", True):
                break
            time.sleep(2)
        else:
            pytest.fail("no sweep point went live within 15 minutes")
        os.killpg(proc.pid, signal.SIGKILL)  # ctrl-C twice or a lost controller: no rescue, no always runs
        killed_at = time.monotonic()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    assert hc.sh(host, "systemctl is-active qwen3-tune-guard.timer").stdout.strip() == "active"
    assert not guard_status(host)["live_is_good"]
    deadline = time.monotonic() + guard_after + 300
    while time.monotonic() < deadline and not (guard_status(host)["live_is_good"] and not guard_status(host)["marker"]):
        time.sleep(3)
    record("interrupt: restored by the guard after seconds", round(time.monotonic() - killed_at, 1))
    assert_known_good_serves(host, 4)
    assert not guard_status(host)["marker"]


def test_a_second_run_lands_within_one_step_and_apply_reverifies_under_load(site, run_playbook):
    host, inventory = site
    threshold = RECORD["threshold"]["ttft_p95_ms"]
    first = report("tune-binding")["judged"]["recommended"]
    result = tune(run_playbook, inventory, "tune-apply", verify_thresholds={"ttft_p95_ms": threshold}, tune_apply=True)
    doc = report("tune-apply")
    record("second run", {"recommended": doc["judged"]["recommended"], "first": first})
    assert result.rc == 0, hc.ansible_messages(result.stdout)[-5000:]
    second = doc["judged"]["recommended"]
    assert abs(math.log2(second) - math.log2(first)) <= 1, (first, second)
    assert "re-verified under load" in result.stdout
    recheck = json.loads((REPO / "reports" / "tune-apply" / HOST / "tune" / "recheck.json").read_text())
    record("recheck", {k: recheck["result"][k] for k in ("concurrency", "good_fraction", "ttft_ms", "failed")})
    assert recheck["result"]["concurrency"] == second
    assert serving_seqs(host) == second == good_seqs(host)
    assert guard_status(host)["live_is_good"]


def test_preflight_accepts_the_snippet_and_warns_on_changed_provenance(site, run_playbook):
    _host, inventory = site
    snippet = yaml.safe_load((REPO / "reports" / "tune-apply" / HOST / "tune" / "host_vars.yml").read_text())
    fine = run_playbook("playbooks/preflight.yml", inventory, extra_vars=snippet, timeout=600)
    assert fine.rc == 0, hc.ansible_messages(fine.stdout)[-3000:]
    assert "WARNING: preflight_tuned_for" not in fine.stdout
    moved = {**snippet, "preflight_tuned_for": {**snippet["preflight_tuned_for"], "vllm_version": "0.31.0"}}
    warned = run_playbook("playbooks/preflight.yml", inventory, extra_vars=moved, timeout=600)
    assert warned.rc == 0
    assert "WARNING: preflight_tuned_for.vllm_version" in warned.stdout
