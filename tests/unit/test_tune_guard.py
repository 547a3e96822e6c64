"""The tuner's host-side guard (roles/engine_tuner/files/tune_guard.py) restores exactly what module
qwen3.deploy.release would: both read one saved release (its manifest), so the guard that fires after an
interrupted tune and the release mechanism agree on what the known good release is."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

from ansible_collections.qwen3.deploy.plugins.modules import release

GUARD = Path(__file__).resolve().parents[2] / "roles" / "engine_tuner" / "files" / "tune_guard.py"


def load_guard():
    spec = importlib.util.spec_from_file_location("tune_guard", GUARD)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_systemctl(tmp_path: Path) -> Path:
    log = tmp_path / "systemctl.log"
    script = tmp_path / "systemctl"
    script.write_text(f"#!/bin/sh\necho \"$@\" >> {log}\n")
    script.chmod(0o755)
    return script


def deployed(tmp_path: Path):
    unit, env = tmp_path / "etc" / "qwen3-vllm.service", tmp_path / "etc" / "vllm.env"
    unit.parent.mkdir()
    unit.write_text("ExecStart=vllm serve --max-num-seqs 4\n")
    env.write_text("VLLM_API_KEY='k'\n")
    env.chmod(0o600)
    state = tmp_path / "releases"
    files = [str(unit), str(env)]
    release.run({"name": "qwen3-vllm.service", "files": files, "state": "adopt", "state_dir": str(state)}, False)
    return unit, env, state, files


def test_the_guard_restores_a_sweep_point_as_release_restore_would(tmp_path):
    guard = load_guard()
    unit, env, state, files = deployed(tmp_path)
    slot = state / "qwen3-vllm.service" / "good"
    marker = tmp_path / "in-progress.json"
    marker.write_text("{}")
    unit.write_text("ExecStart=vllm serve --max-num-seqs 32\n")  # a sweep point, recorded as pending
    release.run({"name": "qwen3-vllm.service", "files": files, "state": "pending", "state_dir": str(state)}, False)
    argv = ["--slot", str(slot), "--marker", str(marker)]
    systemctl = fake_systemctl(tmp_path)
    assert guard.main(["status", *argv]) == 0
    assert guard.live_is_good(str(slot)) is False
    assert guard.main(["restore", *argv, "--unit", "qwen3-vllm.service", "--systemctl", str(systemctl)]) == 0
    assert unit.read_text() == "ExecStart=vllm serve --max-num-seqs 4\n"
    assert oct(os.stat(env).st_mode & 0o777) == "0o600"
    assert not marker.exists(), "the marker goes once the known good release is restarted"
    assert (tmp_path / "systemctl.log").read_text().splitlines() == ["daemon-reload", "restart qwen3-vllm.service"]
    status = release.run({"name": "qwen3-vllm.service", "files": files, "state": "status", "state_dir": str(state)},
                         False)
    assert status["live_is_good"] and not status["has_pending"], "the sweep point is forgotten, never promoted"


def test_the_guard_reports_status_as_json(tmp_path, capsys):
    guard = load_guard()
    _unit, _env, state, _files = deployed(tmp_path)
    guard.main(["status", "--slot", str(state / "qwen3-vllm.service" / "good"), "--marker", str(tmp_path / "m")])
    assert json.loads(capsys.readouterr().out) == {"has_good": True, "live_is_good": True, "marker": False}


def test_without_a_known_good_release_the_guard_restores_nothing(tmp_path):
    guard = load_guard()
    code = guard.main(["restore", "--slot", str(tmp_path / "none"), "--marker", str(tmp_path / "m"), "--unit", "u",
                       "--systemctl", str(fake_systemctl(tmp_path))])
    assert code == 1 and not (tmp_path / "systemctl.log").exists()
