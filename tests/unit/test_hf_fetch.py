"""hf_fetch.py against FakeHub (a local test double of the Hugging Face Hub) over 127.0.0.1."""

import json
import os
import re
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest
from qwen3_hosttools import hf_fetch
from support.fake_hub import FakeHub

SCRIPT = Path(hf_fetch.__file__)
TOKEN = "hf_test_double_token_1234"
WEIGHTS = ["*.safetensors", "*.json", "tokenizer*", "merges.txt", "vocab.json"]


def make_repo(root: Path, big_bytes: int = 0) -> Path:
    """A small repo: weights, config/tokenizer JSON, plus files the allow patterns must skip."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text('{"model_type": "qwen3"}\n')
    (root / "tokenizer.json").write_text('{"version": "1.0"}\n')
    (root / "tokenizer_config.json").write_text('{"eos_token": "<|im_end|>"}\n')
    (root / "model-00001-of-00002.safetensors").write_bytes(bytes(range(256)) * 400)
    (root / "model-00002-of-00002.safetensors").write_bytes(os.urandom(big_bytes) if big_bytes else b"\x01" * 5000)
    (root / "README.md").write_text("# not wanted\n")
    (root / "pytorch_model.bin").write_bytes(b"\x00" * 3000)
    (root / "original").mkdir(exist_ok=True)
    (root / "original" / "consolidated.pth").write_bytes(b"\x02" * 2000)
    return root


@pytest.fixture
def hub(tmp_path):
    with FakeHub() as h:
        h.add_repo("Qwen/Tiny-Test", make_repo(tmp_path / "repo"), refs=("main", "v1.0"))
        yield h


def run(hub, dest, *extra, revision="main", patterns=WEIGHTS, env=None):
    argv = ["--repo-id", "Qwen/Tiny-Test", "--revision", revision, "--local-dir", str(dest)]
    argv += [f"--allow-pattern={p}" for p in patterns]
    argv += ["--endpoint", hub.endpoint, "--backoff", "0.05", "--progress-interval", "0.05", *extra]
    return hf_fetch.main(argv)


def last_json(capsys) -> dict:
    out = capsys.readouterr().out.strip().splitlines()
    return json.loads(out[-1])


def test_pinned_commit_downloads_only_allowed_files(hub, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    commit = hub.repos["Qwen/Tiny-Test"].commit
    dest = tmp_path / "dest"
    assert run(hub, dest, revision=commit) == 0
    result = last_json(capsys)
    assert result["result"] == "downloaded" and result["commit"] == commit
    got = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file() and ".cache" not in p.parts)
    assert got == sorted(
        [
            hf_fetch.MARKER,
            "config.json",
            "model-00001-of-00002.safetensors",
            "model-00002-of-00002.safetensors",
            "tokenizer.json",
            "tokenizer_config.json",
        ]
    )
    assert (dest / "model-00001-of-00002.safetensors").read_bytes() == bytes(range(256)) * 400
    fetched = {r.path.rsplit("/", 1)[-1] for r in hub.requests if r.method == "GET" and "/resolve/" in r.path}
    assert not fetched & {"README.md", "pytorch_model.bin", "consolidated.pth"}
    marker = json.loads((dest / hf_fetch.MARKER).read_text())
    assert marker["commit"] == commit and marker["revision"] == commit
    assert marker["files"]["model-00001-of-00002.safetensors"] == 102400


def test_tag_resolves_to_its_commit(hub, tmp_path, capsys):
    assert run(hub, tmp_path / "d", revision="v1.0") == 0
    assert last_json(capsys)["commit"] == hub.repos["Qwen/Tiny-Test"].commit
    # every file request went to the resolved commit, not to the tag
    assert all("/resolve/v1.0/" not in r.path for r in hub.requests)


def test_unknown_revision_is_a_clear_error(hub, tmp_path, capsys):
    assert run(hub, tmp_path / "d", revision="no-such-tag") == hf_fetch.EXIT_NOT_FOUND
    result = last_json(capsys)
    assert result["result"] == "failed" and "revision not found" in result["error"]
    assert not (tmp_path / "d" / hf_fetch.MARKER).exists()


def test_patterns_matching_nothing_fail(hub, tmp_path, capsys):
    assert run(hub, tmp_path / "d", patterns=["*.gguf"]) == hf_fetch.EXIT_NOT_FOUND
    assert "matches" in last_json(capsys)["error"]


def test_marker_prevents_any_hub_traffic_on_rerun(hub, tmp_path, capsys):
    dest = tmp_path / "d"
    assert run(hub, dest) == 0
    capsys.readouterr()
    seen = len(hub.requests)
    assert run(hub, dest) == 0
    assert last_json(capsys) | {"result": "already_complete", "changed": False} == last_json_cache(dest)
    assert len(hub.requests) == seen, "a complete download must not talk to the Hub"
    assert (
        hf_fetch.main(
            ["--check", "--repo-id", "Qwen/Tiny-Test", "--revision", "main", "--local-dir", str(dest)]
            + [f"--allow-pattern={p}" for p in WEIGHTS]
        )
        == 0
    )


def last_json_cache(dest: Path) -> dict:
    marker = json.loads((dest / hf_fetch.MARKER).read_text())
    keys = ("repo_id", "revision", "allow_patterns", "ignore_patterns")
    return {"result": "already_complete", "changed": False, **{k: marker[k] for k in keys}}


def test_marker_for_other_revision_or_damaged_file_triggers_download(hub, tmp_path, capsys):
    dest = tmp_path / "d"
    assert run(hub, dest) == 0
    check = ["--check", "--repo-id", "Qwen/Tiny-Test", "--local-dir", str(dest)]
    check += [f"--allow-pattern={p}" for p in WEIGHTS]
    assert hf_fetch.main([*check, "--revision", "v1.0"]) == hf_fetch.EXIT_NEEDED
    shard = dest / "model-00002-of-00002.safetensors"
    shard.write_bytes(b"short")
    assert hf_fetch.main([*check, "--revision", "main"]) == hf_fetch.EXIT_NEEDED
    capsys.readouterr()
    assert run(hub, dest) == 0
    assert last_json(capsys)["result"] == "downloaded"
    assert shard.read_bytes() == b"\x01" * 5000


def test_token_required_and_sent(tmp_path, capsys, monkeypatch):
    with FakeHub(token=TOKEN) as hub:
        hub.add_repo("Qwen/Tiny-Test", make_repo(tmp_path / "repo"))
        monkeypatch.delenv("HF_TOKEN", raising=False)
        assert run(hub, tmp_path / "a") == hf_fetch.EXIT_AUTH
        assert "token" in last_json(capsys)["error"]
        monkeypatch.setenv("HF_TOKEN", "wrong")
        assert run(hub, tmp_path / "b") == hf_fetch.EXIT_AUTH
        monkeypatch.delenv("HF_TOKEN")
        hub.requests.clear()
        token_file = tmp_path / "hf.env"
        token_file.write_text(f"HF_TOKEN={TOKEN}\n")
        assert run(hub, tmp_path / "c", "--token-file", str(token_file)) == 0
        assert hub.requests and {r.authorization for r in hub.requests} == {f"Bearer {TOKEN}"}
        monkeypatch.setenv("HF_TOKEN", TOKEN)
        assert run(hub, tmp_path / "d") == 0
    assert TOKEN not in capsys.readouterr().out


def test_token_never_printed_even_on_failure(tmp_path):
    with FakeHub(token="other") as hub:
        hub.add_repo("Qwen/Tiny-Test", make_repo(tmp_path / "repo"))
        env = dict(os.environ, HF_TOKEN=TOKEN, HF_ENDPOINT=hub.endpoint, PYTHONPATH=str(Path(hf_fetch.__file__).parents[1]))
        cmd = [sys.executable, "-m", "qwen3_hosttools", "hf-fetch", "--repo-id", "Qwen/Tiny-Test", "--revision", "main"]
        cmd += ["--local-dir", str(tmp_path / "d"), "--log-file", str(tmp_path / "log")]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == hf_fetch.EXIT_AUTH
    assert hub.requests[0].authorization == f"Bearer {TOKEN}"  # HF_ENDPOINT + HF_TOKEN from env were used
    for text in (proc.stdout, proc.stderr, (tmp_path / "log").read_text()):
        assert TOKEN not in text


def test_cut_connection_is_resumed_with_a_range_request(tmp_path, capsys):
    big = 24 * 1024 * 1024  # > huggingface_hub's 10 MiB read chunk, so the retry can resume mid-file
    with FakeHub() as hub:
        hub.add_repo("Qwen/Tiny-Test", make_repo(tmp_path / "repo", big_bytes=big))
        hub.cut_once("model-00002-of-00002.safetensors", after_bytes=15 * 1024 * 1024)
        dest = tmp_path / "d"
        assert run(hub, dest) == 0
        gets = hub.file_gets("model-00002-of-00002.safetensors")
    assert len(gets) == 2 and gets[0].range is None and gets[1].range == f"bytes={10 * 1024 * 1024}-"
    want = (tmp_path / "repo" / "model-00002-of-00002.safetensors").read_bytes()
    assert (dest / "model-00002-of-00002.safetensors").read_bytes() == want
    assert last_json(capsys)["attempts"] == 1


def test_failed_file_is_retried_with_backoff(hub, tmp_path, capsys):
    hub.fail_next("config.json", times=1, status=500)
    assert run(hub, tmp_path / "d") == 0
    out = capsys.readouterr().out
    assert "attempt 1 failed" in out and json.loads(out.strip().splitlines()[-1])["attempts"] == 2


def test_interrupted_run_keeps_finished_files(hub, tmp_path, capsys):
    dest = tmp_path / "d"
    hub.fail_next("config.json", times=5, status=503)
    assert run(hub, dest, "--retries", "0") == hf_fetch.EXIT_RETRIES
    assert "gave up" in last_json(capsys)["error"]
    assert (dest / "model-00001-of-00002.safetensors").is_file()
    assert not (dest / hf_fetch.MARKER).exists()
    hub.fail_next("config.json", times=0)
    hub.requests.clear()
    assert run(hub, dest) == 0
    assert hub.file_gets("model-00001-of-00002.safetensors") == []  # finished earlier: not fetched again
    assert len(hub.file_gets("config.json")) == 1


def test_not_enough_disk_fails_before_downloading(hub, tmp_path, capsys):
    dest = tmp_path / "d"
    assert run(hub, dest, "--min-free-margin", str(1 << 60)) == hf_fetch.EXIT_DISK
    assert "not enough disk" in last_json(capsys)["error"]
    assert not any(r.method == "GET" and "/resolve/" in r.path for r in hub.requests)


def test_check_needs_no_network(tmp_path, capsys):
    argv = ["--check", "--repo-id", "a/b", "--revision", "main", "--local-dir", str(tmp_path / "none")]
    assert hf_fetch.main(argv) == hf_fetch.EXIT_NEEDED
    assert last_json(capsys)["reason"] == "no completion marker"


def test_read_token_forms(tmp_path, monkeypatch):
    f = tmp_path / "t"
    f.write_text("  raw-token \n")
    assert hf_fetch.read_token(f) == "raw-token"
    f.write_text("# comment\nHF_TOKEN='quoted'\n")
    assert hf_fetch.read_token(f) == "quoted"
    monkeypatch.setenv("HF_TOKEN", " env-token ")
    assert hf_fetch.read_token(None) == "env-token"
    monkeypatch.setenv("HF_TOKEN", "")
    assert hf_fetch.read_token(None) is None


def test_fake_hub_serves_ranges(hub):
    commit = hub.repos["Qwen/Tiny-Test"].commit
    url = f"{hub.endpoint}/Qwen/Tiny-Test/resolve/{commit}/model-00001-of-00002.safetensors"
    req = urllib.request.Request(url, headers={"Range": "bytes=100-"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 206
        assert resp.headers["Content-Range"] == "bytes 100-102399/102400"
        assert resp.headers["X-Repo-Commit"] == commit
        assert resp.read() == (bytes(range(256)) * 400)[100:]


def test_new_revision_replaces_files_and_drops_stale_shards(hub, tmp_path, capsys):
    dest = tmp_path / "d"
    first = hub.repos["Qwen/Tiny-Test"].commit
    assert run(hub, dest, revision=first) == 0
    new_root = tmp_path / "repo2"
    new_root.mkdir()
    (new_root / "config.json").write_text('{"model_type": "qwen3", "v": 2}\n')
    (new_root / "tokenizer.json").write_text('{"version": "1.0"}\n')
    (new_root / "model.safetensors").write_bytes(b"\x03" * 7000)
    second = hub.add_repo("Qwen/Tiny-Test", new_root).commit
    assert second != first
    capsys.readouterr()
    assert run(hub, dest, revision=second) == 0
    out = capsys.readouterr().out
    assert "removed model-00001-of-00002.safetensors" in out
    left = sorted(p.name for p in dest.iterdir() if p.is_file())
    assert left == sorted([hf_fetch.MARKER, "config.json", "model.safetensors", "tokenizer.json"])
    assert json.loads((dest / "config.json").read_text())["v"] == 2
    assert json.loads((dest / hf_fetch.MARKER).read_text())["commit"] == second


def test_progress_lines_while_a_file_is_slow(tmp_path, capsys):
    with FakeHub() as hub:
        hub.add_repo("Qwen/Tiny-Test", make_repo(tmp_path / "repo"))
        hub.stall("model-00001-of-00002.safetensors", after_bytes=1000)
        timer = threading.Timer(0.6, hub.release)
        timer.start()
        try:
            assert run(hub, tmp_path / "d", "--progress-interval", "0.1", "--max-workers", "1") == 0
        finally:
            timer.cancel()
            hub.release()
    lines = [line for line in capsys.readouterr().out.splitlines() if " progress " in line]
    assert len(lines) >= 2, lines
    shape = re.compile(r"progress [0-9.]+ (B|KiB) / 105.0 KiB \([0-9.]+%\), [0-9.]+ (B|KiB|MiB)/s$")
    assert all(shape.search(line) for line in lines), lines
    assert "(100.0%)" not in lines[0]  # printed while the stalled file was still on its way
