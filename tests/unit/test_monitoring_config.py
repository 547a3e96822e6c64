"""Monitoring's configuration from the inventory (module_utils/monitoring/targets.py, alertmanager.py, agreement.py):
where it runs, what it must scrape, Prometheus' and Alertmanager's configuration checked with Debian's own
promtool and amtool, the silences and RolloutStopped alert a rollout sends, and the TTFT agreement check."""

from __future__ import annotations

import math
import subprocess
from datetime import UTC, datetime

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.qwen3.deploy.plugins.filter import monitoring as monitoring_filters
from ansible_collections.qwen3.deploy.plugins.module_utils.monitoring import agreement, alertmanager, targets
from ansible_collections.qwen3.deploy.plugins.module_utils.monitoring.alerts import MonitoringError
from support import prometheus_tools

ENGINE = {"engine": "vllm", "url": "http://127.0.0.1:8000", "bind_host": "127.0.0.1", "metrics_path": "/metrics"}
AGENT = {"node_exporter_url": "http://127.0.0.1:9100", "canary_paths": ["engine"], "canary_interval": 60}


def test_the_monitoring_host_is_the_group_else_the_first_router_else_each_engine_host():
    single = {"llm_servers": ["a", "b"]}
    fleet = {"llm_servers": ["a", "b"], "llm_routers": ["r1", "r2"]}
    named = {**fleet, "llm_monitoring": ["m"]}
    assert targets.monitoring_hosts(single) == ["a", "b"]
    assert [targets.monitored_by(single, h) for h in ("a", "b")] == ["a", "b"]
    assert targets.monitoring_hosts(fleet) == ["r1"]
    assert [targets.monitored_by(fleet, h) for h in ("a", "b", "r2")] == ["r1", "r1", "r1"]
    assert targets.monitored_by(named, "r1") == "m"


def test_a_single_host_scrapes_itself_on_loopback():
    found = targets.expected_targets("a", {"a": {"engine": ENGINE, "agent": AGENT,
                                                 "webui": {"url": "http://127.0.0.1:8080"}}})
    assert [(t["job"], t["url"]) for t in found] == [
        ("qwen3-node", "http://127.0.0.1:9100/metrics"), ("qwen3-engine", "http://127.0.0.1:8000/metrics"),
        ("qwen3-webui", "http://127.0.0.1:8080/health")]


def test_a_fleet_engine_is_scraped_at_its_worker_address_and_loopback_only_exporters_are_refused():
    wildcard = {**AGENT, "node_exporter_host": "::"}
    engine = {**ENGINE, "bind_host": "::"}
    found = targets.expected_targets("r1", {"a": {"address": "10.0.0.11", "engine": engine, "agent": wildcard}})
    assert {t["url"] for t in found} == {"http://10.0.0.11:9100/metrics", "http://10.0.0.11:8000/metrics"}
    pinned = targets.expected_targets("r1", {"a": {"address": "10.0.0.11", "engine": {**ENGINE, "bind_host": "10.9.0.2"}}})
    assert [t["url"] for t in pinned] == ["http://10.9.0.2:8000/metrics"]
    with pytest.raises(MonitoringError, match="loopback only"):
        targets.expected_targets("r1", {"a": {"address": "10.0.0.11", "engine": ENGINE, "agent": AGENT}})


def test_router_series_are_labelled_with_the_engine_host_of_their_worker_url():
    rules = targets.router_relabels({"gpu-1": "http://10.0.0.11:8000"})
    assert rules == [{"source_labels": ["worker"], "regex": "http://10\\.0\\.0\\.11:8000/?", "target_label": "host",
                      "replacement": "gpu-1"}]


def _config(tmp_path):
    found = targets.expected_targets("a", {"a": {"engine": ENGINE, "agent": AGENT,
                                                 "webui": {"url": "http://127.0.0.1:8080"}}})
    found += targets.expected_targets("o", {"o": {"engine": {"engine": "ollama", "url": "http://127.0.0.1:11434"}}})
    rules = tmp_path / "rules.yml"
    rules.write_text("groups: []\n")
    return targets.prometheus_config(found, scrape_interval_s=15, alertmanager="127.0.0.1:9093",
                                     rules_files=[str(rules)], blackbox="127.0.0.1:9115")


def test_the_prometheus_configuration_passes_promtool_check_config(tmp_path):
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(_config(tmp_path)))
    done = subprocess.run([str(prometheus_tools.tool("promtool")), "check", "config", str(path)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_target_carries_its_inventory_host(tmp_path):
    for job in _config(tmp_path)["scrape_configs"]:
        assert all(static["labels"]["host"] in ("a", "o") for static in job["static_configs"]), job["job_name"]


def test_a_target_missing_from_the_configuration_or_down_is_named():
    expected = [{"job": "qwen3-engine", "host": "a", "url": "http://127.0.0.1:8000/metrics"},
                {"job": "qwen3-node", "host": "a", "url": "http://127.0.0.1:9100/metrics"}]
    active = [{"labels": {"job": "qwen3-node", "host": "a"}, "health": "down", "lastError": "connection refused"}]
    assert targets.missing_targets(expected, active) == [
        "qwen3-engine on a (http://127.0.0.1:8000/metrics) is not in Prometheus' configuration",
        "qwen3-node on a (http://127.0.0.1:9100/metrics) is down: connection refused"]


def test_the_alertmanager_configuration_passes_amtool_and_keeps_watchdog_from_paging(tmp_path):
    config = alertmanager.config([{"name": "pager", "url": "http://127.0.0.1:9/hook"}], group_wait_s=30,
                                 repeat_interval="4h")
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    done = subprocess.run([str(prometheus_tools.tool("amtool")), "check-config", str(path)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    watchdog, pager = config["route"]["routes"]
    assert watchdog["receiver"] == alertmanager.NULL_RECEIVER and pager["receiver"] == "pager"
    with pytest.raises(MonitoringError):
        alertmanager.config([{"name": "x", "url": "http://h/"}], group_wait_s=1, repeat_interval="1h",
                            watchdog_receiver="y")


def test_a_silence_matches_the_host_for_a_bounded_time_and_rollout_stopped_names_it():
    now = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    body = alertmanager.silence("gpu-1", 3600, "rolling upgrade", now=now)
    assert body["matchers"] == [{"name": "host", "value": "gpu-1", "isRegex": False, "isEqual": True},
                                {"name": "alertname", "value": "RolloutStopped", "isRegex": False, "isEqual": False}]
    assert (body["startsAt"], body["endsAt"]) == ("2026-12-07T10:00:00.000Z", "2026-12-07T11:00:00.000Z")
    alert = alertmanager.rollout_stopped("gpu-1", "VERIFICATION FAILED", now=now)[0]
    assert alert["labels"] == {"alertname": "RolloutStopped", "host": "gpu-1", "severity": "critical"}
    assert alertmanager.silence("gpu-1", 90, "grace", now=now, silence_id="abc")["id"] == "abc"
    with pytest.raises(MonitoringError):
        alertmanager.silence("gpu-1.*", 60, "x")


def test_verification_silences_only_canary_stale_of_the_host_it_measures():
    body = alertmanager.silence("gpu-1", 3600, "playbooks/verify.yml measures this host", alertname="CanaryStale")
    assert body["matchers"] == [{"name": "host", "value": "gpu-1", "isRegex": False, "isEqual": True},
                                {"name": "alertname", "value": "CanaryStale", "isRegex": False, "isEqual": True}]
    with pytest.raises(MonitoringError):
        alertmanager.silence("gpu-1", 60, "x", alertname="Canary.*")


BUCKETS = {"0.001": 0, "0.005": 0, "0.01": 7, "0.02": 9, "0.04": 9, "+Inf": 9}


def test_quantile_is_prometheus_histogram_quantile():
    # rank 0.95 * 9 = 8.55 falls in (0.01, 0.02]: 0.01 + 0.01 * (8.55 - 7) / 2
    assert agreement.quantile(0.95, BUCKETS) == pytest.approx(0.01775)
    assert agreement.quantile(0.5, BUCKETS) == pytest.approx(0.005 + 0.005 * 4.5 / 7)
    assert math.isnan(agreement.quantile(0.95, {"0.01": 0, "+Inf": 0}))


def test_agreement_holds_within_a_bucket_and_counts_must_match():
    assert agreement.ttft_agreement(0.0103, 0.01775, BUCKETS, 9, 9) == []
    # One slow request alone in (40, 80] ms: Prometheus interpolates to 62 ms, the probe saw 41 ms: neighbours.
    wide = {"0.02": 0, "0.04": 8, "0.08": 9, "+Inf": 9}
    assert agreement.ttft_agreement(0.041, agreement.quantile(0.95, wide), wide, 9, 9) == []
    assert agreement.ttft_agreement(0.0103, 0.035, BUCKETS, 9, 9) == []  # (10, 20] and (20, 40]: neighbours
    far = agreement.ttft_agreement(0.0103, 0.07, BUCKETS, 9, 9)
    assert len(far) == 1 and "more than one bucket" in far[0] and "(40, inf] ms" in far[0], far
    assert "counted 10 requests" in agreement.ttft_agreement(0.0103, 0.01775, BUCKETS, 10, 9)[0]


def _facts(ttft_ms: int) -> dict:
    return {"engine": ENGINE, "agent": {**AGENT, "canary_paths": ["engine", "webui"], "canary_interval": 30},
            "slo": {"thresholds": {"ttft_p95_ms": ttft_ms, "thinking_allowed": False}}}


def test_the_monitoring_host_writes_one_rules_file_from_each_hosts_slo(tmp_path):
    rules = monitoring_filters.monitoring_rules({"a": _facts(500), "b": _facts(500)})
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(rules))
    done = subprocess.run([str(prometheus_tools.tool("promtool")), "check", "rules", str(path)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    exprs = {r["alert"]: r["expr"] for g in rules["groups"] for r in g["rules"]}
    assert exprs["CanaryTTFTHigh"].endswith("> 0.5") and "WebUIDown" in exprs
    with pytest.raises(AnsibleFilterError, match="differs between the hosts"):
        monitoring_filters.monitoring_rules({"a": _facts(500), "b": _facts(800)})
