"""Fleet logic without hosts: worker lists kept across router restarts, drains, metrics parsing, the router's
command line, firewall address sets, the one-model-name rule and the fleet summary."""

from __future__ import annotations

import json

import pytest
from ansible_collections.qwen3.deploy.plugins.module_utils import fleet, fleet_report
from ansible_collections.qwen3.deploy.plugins.module_utils import router as r

A, B, C = "http://10.0.0.11:8000", "http://10.0.0.12:8000", "http://10.0.0.13:8000"


def test_a_drained_worker_is_not_in_the_list_the_router_starts_from(tmp_path):
    state = r.configure(r.empty_state(), [A, B, C])
    state = r.drain(state, B, "rollout")
    assert r.active_workers(state) == [A, C]
    assert r.env_text(state).splitlines()[-2:] == [f"QWEN3_ROUTER_WORKERS={A} {C}", "QWEN3_ROUTER_POLICY=power_of_two"]
    files = (str(tmp_path / "workers.json"), str(tmp_path / "workers.env"))
    assert r.save(state, *files) is True
    assert r.save(state, *files) is False  # unchanged: nothing written
    assert r.read_state(files[0]) == state
    assert not r.differs(state, *files)
    assert r.differs(r.undrain(state, B), *files)


def test_a_manual_drain_is_never_replaced_by_the_rollout():
    state = r.drain(r.configure(r.empty_state(), [A, B]), A, "manual")
    assert r.drain(state, A, "rollout")["drained"] == {A: "manual"}
    assert r.drain(state, B, "rollout")["drained"] == {A: "manual", B: "rollout"}


def test_configure_keeps_drains_of_workers_still_in_the_inventory():
    state = r.drain(r.drain(r.configure(r.empty_state(), [A, B, C]), B, "manual"), C, "rollout")
    new = r.configure(state, [A, B])
    assert new == {"workers": [A, B], "drained": {B: "manual"}, "policy": "power_of_two"}


def test_power_of_two_starts_as_round_robin_with_one_worker_left():
    state = r.configure(r.empty_state(), [A, B], "power_of_two")
    assert r.start_policy(state) == "power_of_two"
    assert r.start_policy(r.drain(state, A, "manual")) == "round_robin"
    assert r.start_policy(r.configure(r.drain(state, A, "manual"), [A, B], "cache_aware")) == "cache_aware"


def test_a_corrupt_state_file_reads_as_empty(tmp_path):
    path = tmp_path / "workers.json"
    path.write_text("{not json")
    assert r.read_state(str(path)) == r.empty_state()
    path.write_text(json.dumps({"workers": [A], "drained": {A: "because"}}))
    assert r.read_state(str(path)) == {"workers": [A], "drained": {}, "policy": "power_of_two"}  # reason dropped


ROUTER_METRICS = f"""# HELP vllm_router_running_requests x
# TYPE vllm_router_running_requests gauge
vllm_router_running_requests{{worker="{A}"}} 2
vllm_router_running_requests{{worker="{B}"}} 0
vllm_router_processed_requests_total{{worker="{A}"}} 17
"""
ENGINE_METRICS = """# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="qwen3-demo"} 1.0
vllm:num_requests_waiting{engine="0",model_name="qwen3-demo"} 2.0
vllm:num_requests_waiting_by_reason{reason="capacity"} 5.0
"""


def test_in_flight_from_the_router_and_the_engine():
    assert r.router_in_flight(ROUTER_METRICS, A) == 2
    assert r.router_in_flight(ROUTER_METRICS, B) == 0
    assert r.router_in_flight(ROUTER_METRICS, C) is None  # not exported (round_robin) or never routed to
    assert r.engine_in_flight(ENGINE_METRICS) == 3
    assert r.engine_in_flight("") is None


class FakeRouter:
    """Test double of module_utils.router.Router: in-flight values in order, then the last one."""

    def __init__(self, values):
        self.values = list(values)

    def in_flight(self, _worker):
        return self.values.pop(0) if len(self.values) > 1 else self.values[0]


def test_the_drain_waits_until_nothing_is_in_flight_but_not_longer_than_its_timeout():
    clock = iter(range(100)).__next__
    done = r.wait_idle(FakeRouter([{"router": 2, "engine": 1}, {"router": 1, "engine": 0}, {"router": 0,
                                   "engine": None}]), A, timeout=30, clock=clock, sleep=lambda _s: None)
    assert done["idle"] and len(done["samples"]) == 3
    clock = iter(range(100)).__next__
    stuck = r.wait_idle(FakeRouter([{"router": 1, "engine": 0}]), A, timeout=5, clock=clock, sleep=lambda _s: None)
    assert not stuck["idle"] and stuck["waited"] >= 5


def test_read_key_from_an_environment_file(tmp_path):
    path = tmp_path / "k.env"
    path.write_text("# x\nVLLM_API_KEY='abc-123'\n")
    assert r.read_key(str(path), "VLLM_API_KEY") == "abc-123"
    assert r.read_key(str(tmp_path / "missing"), "VLLM_API_KEY") == ""


def test_worker_urls_from_facts_and_the_address_mapping():
    facts = {"gpu-1": {"default_ipv4": {"address": "10.0.0.11"}, "port": 8000},
             "gpu-2": {"default_ipv4": {"address": "172.17.0.2"}, "port": 8001}}
    assert fleet.workers(["gpu-1", "gpu-2"], facts, {"gpu-2": "fd00::12"}) == {
        "gpu-1": "http://10.0.0.11:8000", "gpu-2": "http://[fd00::12]:8001"}
    with pytest.raises(fleet.FleetError, match="gpu-3"):
        fleet.workers(["gpu-3"], {}, {})
    with pytest.raises(fleet.FleetError, match="publishes no engine port"):
        fleet.workers(["gpu-1"], {"gpu-1": {"default_ipv4": {"address": "10.0.0.11"}}}, {})


def test_the_router_command_line_takes_its_workers_from_the_environment_file():
    line = fleet.router_exec_start("/opt/r", {"host": "10.0.0.5", "port": 30000, "policy": "power_of_two"},
                                   {"log-level": "debug", "disable-retries": True, "queue-size": None})
    assert line == ("/opt/r/bin/vllm-router --host 10.0.0.5 --port 30000 --log-level debug --disable-retries "
                    "--policy ${QWEN3_ROUTER_POLICY} --worker-urls $QWEN3_ROUTER_WORKERS")
    for owned in ("worker-urls", "host", "api-key"):
        with pytest.raises(fleet.FleetError, match=f"--{owned} is set from"):
            fleet.router_argv("/opt/r", {}, {owned: "x"})
    with pytest.raises(fleet.FleetError, match="not a flag name"):
        fleet.router_argv("/opt/r", {}, {"--policy": "x"})


def test_firewall_sets_split_by_family_without_link_local():
    assert fleet.split_families(["10.0.0.5", "fd00::5", "fe80::1%eth0", "10.0.0.0/24", "10.0.0.5"]) == {
        "v4": ["10.0.0.5", "10.0.0.0/24"], "v6": ["fd00::5"]}
    with pytest.raises(ValueError):
        fleet.split_families(["router.example"])
    assert fleet.host_addresses({"all_ipv4_addresses": ["127.0.0.1", "10.0.0.5"],
                                 "all_ipv6_addresses": ["::1", "fd00::5"]}) == ["10.0.0.5", "fd00::5"]


def test_a_fleet_serves_one_model_name_with_vllm():
    ok = {"a": {"engine": "vllm", "served_model_name": "m", "profile": "vllm-fp8"},
          "b": {"engine": "vllm", "served_model_name": "m", "profile": "vllm-awq"}}
    assert fleet.model_problems(ok) == []
    mixed = {**ok, "c": {"engine": "vllm", "served_model_name": "n", "profile": "x"}}
    assert fleet.model_problems(mixed) == [
        "the engines behind one router must serve the same model name: 'm' on a, b; 'n' on c"]
    ollama = {**ok, "c": {"engine": "ollama", "served_model_name": "m", "profile": "ollama-q4"}}
    assert "c (ollama-q4: ollama)" in fleet.model_problems(ollama)[0]


def test_the_fleet_summary_lists_engines_router_and_steps(tmp_path):
    target = {"summary": {"targets": {"vllm": {"ok": 20, "attempted": 20, "stats": {
        "ttft_ms": {"p50": 12.0, "p95": 20.0}, "itl_ms": {"p50": 3.0, "p95": 5.0}}}}}}
    (tmp_path / "e1").mkdir()
    (tmp_path / "e1" / "results.json").write_text(json.dumps(target))
    step = {"max_concurrency": 4, "num_prompts": 32, "completed": 32, "failed": 0, "p50_ttft_ms": 30.0,
            "p95_ttft_ms": 50.0, "p50_itl_ms": 4.0, "p95_itl_ms": 9.0, "request_throughput": 5.0,
            "output_throughput": 160.0}
    (tmp_path / "c4.json").write_text(json.dumps(step))
    bad = {**step, "max_concurrency": 16, "failed": 2, "completed": 30}
    (tmp_path / "c16.json").write_text(json.dumps(bad))
    summary = fleet_report.write(str(tmp_path), ["e1", "e2"], "router", [str(tmp_path / "c4.json"),
                                 str(tmp_path / "c16.json")], str(tmp_path / "fleet"))
    assert summary["engines"][0]["ttft_p95_ms"] == 20.0 and summary["engines"][1]["missing"]
    assert [s["concurrency"] for s in summary["steps"]] == [4, 16]
    assert [s["concurrency"] for s in summary["failed_steps"]] == [16]
    text = (tmp_path / "fleet" / "fleet-summary.md").read_text()
    assert "| 4 | 32 / 0 | 30.0 | 50.0 |" in text and "| e2 (no results in this run) |" in text
