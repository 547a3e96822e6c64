"""The capacity tuner's decisions (module_utils/tuning/): the grid, the SLO from verification's thresholds, the
verdict on a curve, fleet sizing, the report files and the provenance preflight compares."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
import yaml
from ansible_collections.qwen3.deploy.plugins.module_utils.tuning import curve, plot, provenance, report, sweep

SLO = {"ttft_ms": 500.0, "tpot_ms": None, "good_fraction": 0.95}
LLM = {"name": "vllm-fp8", "accelerator": "nvidia", "max_num_seqs": 16,
       "vllm": {"package": "vllm", "version": "0.32.0", "install": {"version": "0.32.0"}}}
GPUS = {"count": 1, "gpus": [{"index": 0, "name": "NVIDIA H100 80GB HBM3"}]}


def point(concurrency, *, good=1.0, failed=0, ttft=100.0, preemptions=0, status="measured", prompts=20):
    result = {"concurrency": concurrency, "prompts": prompts, "completed": prompts - failed, "failed": failed,
              "good": round(good * prompts), "good_fraction": good, "ttft_ms": {"p50": ttft / 2, "p95": ttft,
                                                                                 "p99": ttft},
              "tpot_ms": {"p50": 5.0, "p95": 6.0, "p99": 7.0}, "output_tokens_per_s": 100.0 * concurrency,
              "requests_per_s": 0.5 * concurrency, "good_requests_per_s": 0.5 * concurrency * good,
              "preemptions": preemptions, "seed": 7 + concurrency}
    return {"concurrency": concurrency, "status": status, "result": result if status == "measured" else None,
            "message": "" if status == "measured" else "did not come up"}


def test_grid_is_powers_of_two_up_to_the_bound():
    assert sweep.grid(64) == [1, 2, 4, 8, 16, 32, 64]
    assert sweep.grid(40, 4) == [4, 8, 16, 32]
    with pytest.raises(sweep.TuningError, match=r"^engine_tuner_min_seqs"):
        sweep.grid(16, 3)
    with pytest.raises(sweep.TuningError, match=r"^engine_tuner_max_seqs"):
        sweep.grid(2, 4)


def test_slo_is_verifications_ttft_p95_and_itl_where_set():
    assert sweep.slo({"ttft_p95_ms": 500, "max_error_rate": 0.0}) == SLO
    assert sweep.slo({"ttft_p95_ms": 250, "itl_p95_ms": 40})["tpot_ms"] == 40.0
    assert sweep.slo({"ttft_p95_ms": 250, "itl_p95_ms": None})["tpot_ms"] is None
    with pytest.raises(sweep.TuningError, match=r"^ttft_p95_ms"):
        sweep.slo({"ttft_p95_ms": None})


def test_seed_differs_per_point_and_attempt():
    seeds = {sweep.seed(7, c, a) for c in sweep.grid(64) for a in (0, 1)}
    assert len(seeds) == 14


def test_capacity_argv_passes_the_key_by_file_and_the_slo():
    engine = {"url": "http://127.0.0.1:8000", "venv": "/opt/v", "served_model_name": "qwen3", "model_path": "/m/t",
              "api_key_file": "/etc/qwen3-deploy/vllm.env", "metrics_path": "/metrics"}
    argv = sweep.capacity_argv(["/usr/bin/python3", "/opt/t.pyz"], engine, concurrency=8, prompts=16, warmups=2,
                               input_len=1000, output_len=256, seed_value=15, slo_values={**SLO, "tpot_ms": 40.0},
                               timeout=300, result_dir="/tmp/x")
    assert argv[:3] == ["/usr/bin/python3", "/opt/t.pyz", "capacity"]
    pairs = dict(zip(argv[3::2], argv[4::2], strict=True))
    assert pairs["--vllm-bin"] == "/opt/v/bin/vllm"
    assert pairs["--key-file"] == "/etc/qwen3-deploy/vllm.env"
    assert pairs["--ttft-ms"] == "500" and pairs["--tpot-ms"] == "40"
    assert pairs["--metrics-url"] == "http://127.0.0.1:8000/metrics"
    assert pairs["--concurrency"] == "8" and pairs["--seed"] == "15" and pairs["--input-len"] == "1000"
    no_tpot = sweep.capacity_argv(["t"], engine, concurrency=1, prompts=4, warmups=0, input_len=10, output_len=5,
                                  seed_value=1, slo_values=SLO, timeout=60, result_dir="/tmp/y")
    assert "--tpot-ms" not in no_tpot


def test_a_point_passes_with_95_percent_good_and_no_failure():
    assert curve.point_passes(point(1, good=0.95))
    assert not curve.point_passes(point(1, good=0.94))
    assert not curve.point_passes(point(1, good=1.0, failed=1))
    assert not curve.point_passes(point(1, status="start_failed"))
    assert "failed" in curve.why_missed(point(1, failed=2), SLO)
    assert "TTFT p95 900" in curve.why_missed(point(1, good=0.5, ttft=900), SLO)


def test_the_recommendation_is_the_highest_point_below_the_first_miss():
    judged = curve.judge([point(1), point(2), point(4, preemptions=3), point(8, good=0.5, ttft=900),
                          point(16)], SLO)
    assert judged["verdict"] == "binding"
    assert judged["recommended"] == 4 and judged["first_miss"] == 8
    assert judged["preemption_from"] == 4
    assert judged["passes_above_a_miss"] == [16]
    assert judged["good_requests_per_s"] == 2.0
    assert judged["headline"].startswith("recommended max_num_seqs 4")


def test_not_binding_and_none():
    judged = curve.judge([point(1), point(2)], SLO)
    assert judged["verdict"] == "not_binding" and judged["recommended"] == 2
    assert judged["headline"].startswith("SLO not binding up to 2")
    none = curve.judge([point(1, good=0.0, ttft=2000), point(2, good=0.0)], SLO)
    assert none["verdict"] == "none" and none["recommended"] is None
    assert none["headline"].startswith("NO POINT MET THE SLO")
    start_failed = curve.judge([point(1), point(2, status="start_failed")], SLO)
    assert start_failed["recommended"] == 1 and "start_failed" in start_failed["rows"][1]["why"]


@pytest.mark.parametrize(("peak", "per_host", "hosts"), [(10, 2.0, 6), (10.5, 2.0, 7), (1, 4.0, 2), (5, 0, None)])
def test_fleet_sizing_is_ceil_peak_over_good_rate_plus_one(peak, per_host, hosts):
    assert curve.hosts_for_rate(peak, per_host) == hosts


def test_provenance_mismatches_name_the_field():
    tuned = provenance.build(LLM, GPUS, max_num_seqs=16, input_len=1000, output_len=256, slo=SLO, date="d",
                             host="gpu-1", report="r")
    assert tuned["gpu"] == "1x NVIDIA H100 80GB HBM3" and tuned["vllm_version"] == "0.32.0"
    assert provenance.mismatches(tuned, LLM, GPUS) == []
    assert provenance.mismatches({}, LLM, GPUS) == []
    h200 = {"count": 1, "gpus": [{"index": 0, "name": "NVIDIA H200"}]}
    moved = provenance.mismatches(tuned, {**LLM, "max_num_seqs": 32, "vllm": {"install": {"version": "0.33.0"}}}, h200)
    assert [line.split(":")[0] for line in moved] == [
        "preflight_tuned_for.vllm_version", "preflight_tuned_for.gpu", "preflight_tuned_for.max_num_seqs"]
    assert provenance.mismatches(tuned, LLM, h200, gpus_known=False) == []
    assert provenance.check_shape({"max_num_seqs": 0}).startswith("max_num_seqs")
    assert "unknown keys" in provenance.check_shape({"gpus": 1})
    assert provenance.check_shape(tuned) is None


def test_report_writes_curve_plot_snippet_and_sizing(tmp_path):
    points = [point(1), point(2), point(4, good=0.5, ttft=900, preemptions=2)]
    out = report.write(str(tmp_path), host="gpu-1", points=points, slo=SLO,
                       shape={"input_len": 1000, "output_len": 256}, llm=LLM, gpus=GPUS,
                       overrides={"max_model_len": 8192}, date="2026-12-07T12:00:00Z", target_rate=10)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(report.FILES)
    assert out["recommended"] == 2 and out["sizing"]["hosts"] == 11  # ceil(10 / 1.0) + 1
    snippet = yaml.safe_load((tmp_path / "host_vars.yml").read_text())
    assert snippet["llm_profile_overrides"] == {"max_model_len": 8192, "max_num_seqs": 2}
    assert snippet["preflight_kv_cache_policy"] == "one_sequence"
    assert snippet["preflight_tuned_for"]["max_num_seqs"] == 2
    assert provenance.check_shape(snippet["preflight_tuned_for"]) is None
    ET.fromstring((tmp_path / "curve.svg").read_text())  # well-formed
    summary = (tmp_path / "summary.md").read_text()
    assert "recommended max_num_seqs 2" in summary and "preemption" in summary.lower() and "11 such hosts" in summary
    assert "Output throughput peaks at max_num_seqs 4" in summary
    assert json.loads((tmp_path / "tune.json").read_text())["judged"]["first_miss"] == 4


def test_report_without_a_passing_point_writes_no_snippet(tmp_path):
    out = report.write(str(tmp_path), host="h", points=[point(1, good=0.1)], slo=SLO,
                       shape={"input_len": 10, "output_len": 5}, llm={**LLM, "accelerator": "cpu"}, gpus={},
                       overrides={}, date="d", target_rate=3)
    assert out["snippet"] is None and not (tmp_path / "host_vars.yml").exists()
    assert "no fleet size" in out["sizing"]["line"]


def test_a_cpu_snippet_leaves_the_kv_policy_alone(tmp_path):
    out = report.write(str(tmp_path), host="h", points=[point(1)], slo=SLO, shape={"input_len": 10, "output_len": 5},
                       llm={**LLM, "accelerator": "cpu"}, gpus={}, overrides={}, date="d", target_rate=None)
    assert "preflight_kv_cache_policy" not in yaml.safe_load(out["snippet"])
    assert out["sizing"] is None


def test_plot_marks_the_slo_and_the_recommendation():
    judged = curve.judge([point(1), point(2, preemptions=1), point(4, good=0.2, ttft=800)], SLO)
    svg = plot.svg(judged, SLO, "t & <t>")
    root = ET.fromstring(svg)
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "SLO TTFT p95 500 ms" in texts and "recommended" in texts and "preemption from here" in texts
    far = plot.svg(judged, {**SLO, "ttft_ms": 600000.0}, "t")
    assert "SLO TTFT p95 600000 ms (above this scale)" in far and "stroke-dasharray=\"6,4\"" not in far
