"""The tuner's per-point measurement (hosttools capacity.py): bench argv, the recorded result files, pass/fail, the
preemption delta, the key kept out of argv, exit codes; a fake `vllm` that writes a recorded result stands in for
`vllm bench serve`."""

from __future__ import annotations

import itertools
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from qwen3_hosttools import capacity
from qwen3_hosttools.__main__ import main as hosttools_main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CAP = FIXTURES / "capacity"
KEY = "sk-capacity-secret-9f3b"
BASE = ["--vllm-bin", "/opt/v/bin/vllm", "--base-url", "http://127.0.0.1:8000", "--model", "qwen3-14b",
        "--tokenizer", "/srv/models/Qwen3-14B-FP8", "--concurrency", "16", "--seed", "1016", "--ttft-ms", "250",
        "--result-dir", "/tmp/never-written"]


def args_of(*extra: str) -> object:
    return capacity.parse_args([*BASE, *extra])


def recorded(name: str) -> dict:
    return json.loads((CAP / name).read_text())


def test_argv_is_the_point_with_its_seed_goodput_and_percentiles():
    args = args_of("--tpot-ms", "25")
    argv = capacity.bench_argv(args)
    assert argv[:3] == ["/opt/v/bin/vllm", "bench", "serve"]
    flags = dict(itertools.pairwise(argv))
    assert flags["--max-concurrency"] == "16" and flags["--num-prompts"] == "64"  # default 4 x concurrency
    assert flags["--seed"] == "1016" and flags["--dataset-name"] == "random"
    assert flags["--random-input-len"] == "1000" and flags["--random-output-len"] == "256"
    assert flags["--metric-percentiles"] == "50,95,99" and flags["--percentile-metrics"] == "ttft,tpot,itl"
    assert argv[argv.index("--goodput") + 1:argv.index("--goodput") + 3] == ["ttft:250", "tpot:25"]
    assert "--ignore-eos" in argv and "--save-result" in argv and "--num-warmups" not in argv
    assert flags["--result-filename"] == "capacity-c16-seed1016.json"
    assert "--save-detailed" not in argv and "--save-detailed" in capacity.bench_argv(args_of("--detailed"))


def test_warmup_is_its_own_run_with_other_prompts_at_the_same_concurrency():
    args = args_of("--warmups", "24")
    warm = capacity.bench_argv(args, warmup=True)
    point = capacity.bench_argv(args)
    assert warm[warm.index("--seed") + 1] == str(1016 + capacity.WARMUP_SEED_OFFSET)
    assert warm[warm.index("--num-prompts") + 1] == "24" and warm[warm.index("--max-concurrency") + 1] == "16"
    assert "--goodput" not in warm and warm[warm.index("--result-filename") + 1] != point[point.index(
        "--result-filename") + 1]


def test_defaults_small_points_and_usage_errors(capsys):
    args = capacity.parse_args([*BASE[:-8], "--concurrency", "2", "--seed", "1", "--ttft-ms", "250",
                                "--result-dir", "/tmp/x"])
    assert (args.prompts, args.warmups, args.good_fraction, args.key) == (16, 2, 0.95, None)
    for bad in (["--concurrency", "0"], ["--good-fraction", "1.5"], ["--ttft-ms", "nan"], ["--seed", "-1"],
                ["--base-url", "http://127.0.0.1:8000/v1"], ["--metrics-url", "127.0.0.1:8000/metrics"]):
        with pytest.raises(SystemExit) as exc:
            capacity.parse_args([*BASE, *bad])
        assert exc.value.code == 2
    assert "--base-url must be the engine's root URL" in capsys.readouterr().err


def test_recorded_h100_result_becomes_the_point():
    result = recorded("vllm-0.24.0-h100-c64-cap2-summary.json")
    args = capacity.parse_args([*BASE[:-8], "--concurrency", "64", "--prompts", "128", "--seed", "7",
                                "--ttft-ms", "250", "--result-dir", "/tmp/x"])
    out = capacity.summarize(result, args, ["argv"], 0.0)
    assert (out["prompts"], out["completed"], out["failed"]) == (128, 128, 0)
    assert out["good"] == 65  # 6.185 good req/s x 10.509 s: bench keeps the rate, not the count
    assert out["good_fraction"] == pytest.approx(65 / 128, abs=1e-4) and out["passed"] is False
    assert out["ttft_ms"] == {"p50": 243.015, "p95": 2025.15, "p99": 2993.519}
    assert out["tpot_ms"]["p95"] == 24.405 and out["itl_ms"]["p99"] == 24.947
    assert (out["output_tokens_per_s"], out["requests_per_s"], out["good_requests_per_s"]) == (3118.15, 12.18, 6.185)
    assert out["preemptions"] == 0 and out["duration_s"] == 10.509 and out["seed"] == 7


@pytest.mark.parametrize(("goodput", "failed", "passed"), [(12.18, 0, True), (11.6, 0, True), (11.5, 0, False),
                                                           (12.18, 1, False)])
def test_a_point_passes_with_95_percent_good_and_nothing_failed(goodput, failed, passed):
    result = dict(recorded("vllm-0.24.0-h100-c64-cap2-summary.json"), request_goodput=goodput,
                  completed=128 - failed, failed=failed)
    args = capacity.parse_args([*BASE[:-8], "--concurrency", "64", "--prompts", "128", "--seed", "7",
                                "--ttft-ms", "250", "--result-dir", "/tmp/x"])
    assert capacity.summarize(result, args, [], None)["passed"] is passed


def test_a_result_without_goodput_is_a_bench_error():
    result = dict(recorded("vllm-0.24.0-h100-c64-cap2-summary.json"), request_goodput=None)
    with pytest.raises(capacity.BenchError, match="request_goodput"):
        capacity.summarize(result, args_of(), [], None)


def test_preemptions_are_summed_over_label_sets_and_never_read_from_lookalikes():
    scrape = (FIXTURES / "metrics" / "vllm-0.32.0-cpu.txt").read_text()
    assert capacity.parse_preemptions(scrape) == 0.0
    text = ('vllm:num_preemptions_total{engine="0",model_name="m"} 3.0\n'
            'vllm:num_preemptions_total{engine="1",model_name="m"} 4.0\n'
            'vllm:num_preemptions_created{engine="0",model_name="m"} 1.79e+09\n')
    assert capacity.parse_preemptions(text) == 7.0
    with pytest.raises(ValueError, match="no vllm:num_preemptions_total"):
        capacity.parse_preemptions("vllm:num_preemptions_created 1.0\n")


@pytest.mark.parametrize(("content", "key"), [(f"{KEY}\n", KEY), (f"VLLM_API_KEY={KEY}\n", KEY),
                                               (f"# x\nOTHER=1\nVLLM_API_KEY='{KEY}'\n", KEY), ("abc+/9==\n", "abc+/9==")])
def test_key_file_bare_or_environment_file(tmp_path, content, key):
    path = tmp_path / "key"
    path.write_text(content)
    path.chmod(0o600)
    assert capacity.read_key(path, "VLLM_API_KEY") == key


@pytest.mark.parametrize(("content", "mode", "message"), [(KEY, 0o644, "mode 0644"), ("OTHER=1\n", 0o600, "neither"),
                                                          ("VLLM_API_KEY=\n", 0o600, "is empty"), ("", 0o600, "neither")])
def test_key_file_refusals(tmp_path, content, mode, message):
    path = tmp_path / "key"
    path.write_text(content)
    path.chmod(mode)
    with pytest.raises(ValueError, match=message):
        capacity.read_key(path, "VLLM_API_KEY")


FAKE_VLLM = r'''#!PYTHON
"""Fake `vllm bench serve`: logs argv and whether the key came, copies the recorded result to --result-dir."""
import json, os, shutil, sys
argv = sys.argv[1:]
log = os.environ["FAKE_LOG"]
with open(log, "a") as f:
    f.write(json.dumps({"argv": argv, "key": os.environ.get("OPENAI_API_KEY")}) + "\n")
if os.environ.get("FAKE_RC"):
    print("Traceback: something broke"); sys.exit(int(os.environ["FAKE_RC"]))
out = os.path.join(argv[argv.index("--result-dir") + 1], argv[argv.index("--result-filename") + 1])
shutil.copy(os.environ["FAKE_RESULT"], out)
print("============ Serving Benchmark Result ============")
'''


class _Metrics(BaseHTTPRequestHandler):
    values: ClassVar[list[float]] = [2.0, 5.0]

    def do_GET(self):
        value = self.values.pop(0) if len(self.values) > 1 else self.values[0]
        body = f'# TYPE vllm:num_preemptions_total counter\nvllm:num_preemptions_total{{engine="0"}} {value}\n'
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def fake(tmp_path, monkeypatch):
    vllm = tmp_path / "vllm"
    vllm.write_text(FAKE_VLLM.replace("#!PYTHON", f"#!{sys.executable}"))
    vllm.chmod(0o755)
    key = tmp_path / "vllm.env"
    key.write_text(f"VLLM_API_KEY={KEY}\n")
    key.chmod(0o600)
    monkeypatch.setenv("FAKE_LOG", str(tmp_path / "calls.jsonl"))
    monkeypatch.setenv("FAKE_RESULT", str(CAP / "vllm-0.24.0-h100-c64-cap2-summary.json"))
    monkeypatch.setenv("OPENAI_API_KEY", "inherited-should-not-leak")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
    _Metrics.values = [2.0, 5.0]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield {"vllm": vllm, "key": key, "dir": tmp_path / "res", "log": tmp_path / "calls.jsonl",
           "metrics": f"http://127.0.0.1:{server.server_address[1]}/metrics"}
    server.shutdown()


def point_argv(fake, *extra):
    return ["capacity", "--vllm-bin", str(fake["vllm"]), "--base-url", "http://127.0.0.1:8000", "--model", "qwen3-14b",
            "--tokenizer", "/srv/models/Qwen3-14B-FP8", "--key-file", str(fake["key"]), "--concurrency", "64",
            "--prompts", "128", "--seed", "7", "--ttft-ms", "250", "--result-dir", str(fake["dir"]), *extra]


def test_the_command_line_measures_one_point_end_to_end(fake, capsys):
    assert hosttools_main(point_argv(fake, "--metrics-url", fake["metrics"])) == 0
    out = json.loads(capsys.readouterr().out)
    calls = [json.loads(line) for line in fake["log"].read_text().splitlines()]
    assert len(calls) == 2  # the warm-up (64 prompts by default), then the point
    assert calls[0]["argv"][calls[0]["argv"].index("--num-prompts") + 1] == "64"
    assert all(call["key"] == KEY for call in calls)
    assert all(KEY not in " ".join(call["argv"]) for call in calls) and KEY not in json.dumps(out)
    assert out["argv"][1:] == calls[1]["argv"] and out["warmup"]["argv"][1:] == calls[0]["argv"]
    assert out["preemptions"] == 3 and out["passed"] is False and out["good"] == 65
    assert Path(out["result_file"]).is_file() and (fake["dir"] / "capacity-c64-seed7.log").is_file()


def test_no_key_file_means_no_key_in_the_environment(fake, capsys):
    argv = point_argv(fake, "--warmups", "0")
    argv[argv.index("--key-file"):argv.index("--key-file") + 2] = []
    assert hosttools_main(argv) == 0
    calls = [json.loads(line) for line in fake["log"].read_text().splitlines()]
    assert [call["key"] for call in calls] == [None]
    assert json.loads(capsys.readouterr().out)["preemptions"] is None


def test_a_failing_bench_exits_1_with_its_output(fake, capsys, monkeypatch):
    monkeypatch.setenv("FAKE_RC", "3")
    assert hosttools_main(point_argv(fake, "--warmups", "0")) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "exited 3" in captured.err and "something broke" in captured.err


def test_a_missing_vllm_or_unreadable_metrics_exit_1(fake, capsys):
    argv = point_argv(fake)
    argv[argv.index("--vllm-bin") + 1] = str(fake["dir"] / "no-such-vllm")
    assert hosttools_main(argv) == 1
    assert "cannot run" in capsys.readouterr().err
    assert hosttools_main(point_argv(fake, "--metrics-url", "http://127.0.0.1:9/metrics")) == 1
    assert "cannot read vllm:num_preemptions_total" in capsys.readouterr().err


def test_a_world_readable_key_file_is_a_usage_error(fake, capsys):
    os.chmod(fake["key"], 0o644)
    with pytest.raises(SystemExit) as exc:
        hosttools_main(point_argv(fake))
    assert exc.value.code == 2 and "--key-file" in capsys.readouterr().err


def test_the_zipapp_entry_point_lists_the_tool(capsys):
    assert hosttools_main([]) == 2
    assert "capacity" in capsys.readouterr().err


RECORDS = FIXTURES.parent / "records"
# (record's points directory, the result directory the tool was given there, tag): the first H100 run, and the
# second (max_num_seqs 128; asked for an H200), its points measured with no other client on the engine
# (c8-in1001 with --input-len 1001).
H100_POINTS = [("gpu-2026-12-07-h100-capacity-raw", "/tmp/results/CAPT/points", tag)
               for tag in ("c8", "c16", "c32", "c64", "c7", "c8-again")] + [
              ("gpu-2026-12-07-h100-capacity-run2-raw", "/tmp/results/H200/points", tag)
              for tag in ("c8", "c8-in1001", "c16", "c32", "c64")]


@pytest.mark.parametrize(("record", "result_dir", "tag"), H100_POINTS)
def test_the_h100_runs_replay_from_their_result_files(record, result_dir, tag):
    """What the tool printed on the lent H100s (vLLM 0.24.0) comes back from bench's result file it read there
    (kept without generated_texts, itls rounded; neither is read)."""
    points = RECORDS / record / "points"
    printed = json.loads((points / f"point_{tag}.stdout.json").read_text())
    tool_argv = printed["argv"]
    args = capacity.parse_args([
        "--vllm-bin", tool_argv[0], "--base-url", "http://127.0.0.1:8000", "--model", "qwen3-14b",
        "--tokenizer", "/tmp/models/Qwen3-14B-FP8", "--concurrency", str(printed["concurrency"]),
        "--prompts", str(printed["prompts"]), "--seed", str(printed["seed"]), "--ttft-ms", "250",
        "--input-len", str(printed["shape"]["input_len"]), "--result-dir", result_dir, "--detailed"])
    assert capacity.bench_argv(args) == tool_argv
    result = json.loads((points / Path(printed["result_file"]).name).read_text())
    again = capacity.summarize(result, args, tool_argv, printed["preemptions"])
    assert again == {key: value for key, value in printed.items()
                     if key not in ("warmup", "bench_wall_s", "result_file", "notes")}
    assert printed["passed"] is False and printed["failed"] == 0 and printed["preemptions"] == 0
