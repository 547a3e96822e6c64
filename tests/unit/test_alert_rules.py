"""Alert rules from the verification thresholds (module_utils/monitoring/alerts.py), tested with Prometheus' own
``promtool`` (Debian 12's 2.42.0): the rules file checks, every alert has a firing and a non-firing case, changing
an inventory threshold changes the rule, and every upstream metric name is in a real scrape of the version we pin."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from ansible_collections.qwen3.deploy.plugins.module_utils import profile as profiles
from ansible_collections.qwen3.deploy.plugins.module_utils.monitoring import alerts as a
from ansible_collections.qwen3.deploy.plugins.module_utils.monitoring import metric_names as m
from support import prometheus_tools
from support.paths import CATALOG_FILE, REPO

CATALOG = profiles.load_catalog(CATALOG_FILE)
DEMO = profiles.resolve(CATALOG, "cpu-demo", {})
THRESHOLDS = a.effective_thresholds(DEMO["thresholds"], {})
SHAPE = {"engine": "vllm", "paths": ("engine", "webui", "webui-socket"), "canary_interval_s": 60, "router": True,
         "gpu": True, "weights_mountpoint": "/", "min_free_gib": 20, "gpu_memory_utilization": 0.9,
         "nginx": True}
ALL = a.alerts(THRESHOLDS, **SHAPE)

H = 'host="h1"'
ENGINE = f'job="qwen3-engine",{H}'


def series(name: str, labels: str, values: str) -> dict:
    return {"series": f"{name}{{{labels}}}", "values": values}


def ttft_buckets(per_bucket: dict[str, str]) -> list[dict]:
    return [series(m.VLLM["ttft_bucket"], f'{ENGINE},le="{le}"', values) for le, values in per_bucket.items()]


# alert -> (firing input, quiet input, eval time, labels of the firing alert besides severity)
CASES = {
    "EngineDown": ([series("up", ENGINE, "0x10")], [series("up", ENGINE, "1x10")], "2m",
                   {"job": "qwen3-engine", "host": "h1"}),
    "EngineTTFTHigh": (ttft_buckets({"0.1": "0x40", "1": "0+10x40", "+Inf": "0+10x40"}),   # all in 0.1-1 s
                       ttft_buckets({"0.1": "0+10x40", "1": "0+10x40", "+Inf": "0+10x40"}),  # all under 0.1 s
                       "8m", {"host": "h1"}),
    "KVCacheNearlyFull": ([series(m.VLLM["kv_cache_usage"], ENGINE, "0.95x60")],
                          [series(m.VLLM["kv_cache_usage"], ENGINE, "0.5x60")], "12m",
                          {"job": "qwen3-engine", "host": "h1"}),
    "EnginePreempting": ([series(m.VLLM["preemptions"], ENGINE, "0+1x20")],
                         [series(m.VLLM["preemptions"], ENGINE, "3x20")], "5m", {"job": "qwen3-engine", "host": "h1"}),
    "EngineQueueBuildup": ([series(m.VLLM["waiting"], ENGINE, "2x40")], [series(m.VLLM["waiting"], ENGINE, "0x40")],
                           "7m", {"job": "qwen3-engine", "host": "h1"}),
    "CanaryPathFailing": ([series(m.CANARY["success"], f'{H},path="webui"', "0x20")],
                          [series(m.CANARY["success"], f'{H},path="webui"', "1x20")], "3m", {"host": "h1", "path": "webui"}),
    "CanaryStale": ([series(m.CANARY["last_run"], f'{H},path="engine"', "0x40")],
                    [series(m.CANARY["last_run"], f'{H},path="engine"', "0+15x40")], "5m", {"host": "h1", "path": "engine"}),
    "CanaryTTFTHigh": ([series(m.CANARY["ttft"], f'{H},path="engine"', "0.8x20")],
                       [series(m.CANARY["ttft"], f'{H},path="engine"', "0.1x20")], "4m", {"host": "h1", "path": "engine"}),
    "CanaryWebUIOverheadHigh": (
        [series(m.CANARY["ttft"], f'{H},path="engine"', "0.1x20"), series(m.CANARY["ttft"], f'{H},path="webui"', "0.6x20")],
        [series(m.CANARY["ttft"], f'{H},path="engine"', "0.1x20"), series(m.CANARY["ttft"], f'{H},path="webui"', "0.2x20")],
        "4m", {"host": "h1", "path": "webui"}),
    "CanaryITLHigh": ([series(m.CANARY["itl"], f'{H},path="engine"', "0.08x20")],
                      [series(m.CANARY["itl"], f'{H},path="engine"', "0.01x20")], "4m", {"host": "h1", "path": "engine"}),
    "CanaryDecodeSlow": ([series(m.CANARY["decode"], f'{H},path="engine"', "10x20")],
                         [series(m.CANARY["decode"], f'{H},path="engine"', "50x20")], "4m",
                         {"host": "h1", "path": "engine"}),
    "CanaryErrorRate": ([series(m.CANARY["error_ratio"], f'{H},path="webui-socket"', "0.5x20")],
                        [series(m.CANARY["error_ratio"], f'{H},path="webui-socket"', "0x20")], "4m",
                        {"host": "h1", "path": "webui-socket"}),
    "ThinkingLeak": ([series(m.CANARY["thinking_leaks"], f'{H},path="webui"', "1x5")],
                     [series(m.CANARY["thinking_leaks"], f'{H},path="webui"', "0x5")], "1m", {"host": "h1", "path": "webui"}),
    "ProxyDown": ([series("nginx_up", f'job="qwen3-nginx",{H}', "0x10")],
                  [series("nginx_up", f'job="qwen3-nginx",{H}', "1x10")], "2m", {"job": "qwen3-nginx", "host": "h1"}),
    "WebUIDown": ([series("probe_success", f'job="qwen3-webui",{H}', "0x10")],
                  [series("probe_success", f'job="qwen3-webui",{H}', "1x10")], "2m", {"job": "qwen3-webui", "host": "h1"}),
    "RouterDown": ([series("up", f'job="qwen3-router",{H}', "0x10")], [series("up", f'job="qwen3-router",{H}', "1x10")],
                   "2m", {"job": "qwen3-router", "host": "h1"}),
    "RouterWorkerUnhealthy": ([series(m.ROUTER["worker_health"], 'host="gpu-1"', "0x10")],
                              [series(m.ROUTER["worker_health"], 'host="gpu-1"', "1x10")], "2m", {"host": "gpu-1"}),
    "RouterCircuitOpen": ([series(m.ROUTER["cb_state"], 'host="gpu-1"', "1x5")],
                          [series(m.ROUTER["cb_state"], 'host="gpu-1"', "0x5")], "1m", {"host": "gpu-1"}),
    "WeightsDiskLow": ([series(m.NODE["fs_avail"], f'{H},mountpoint="/"', "1e9x60")],
                       [series(m.NODE["fs_avail"], f'{H},mountpoint="/"', "1e12x60")], "12m",
                       {"host": "h1", "mountpoint": "/"}),
    "GPUMetricsMissing": ([series(m.GPU["up"], H, "0x30")], [series(m.GPU["up"], H, "1x30")], "6m", {"host": "h1"}),
    "GPUMemoryNearlyFull": (
        [series(m.GPU["memory_used"], f'{H},gpu="0"', "79e9x60"), series(m.GPU["memory_total"], f'{H},gpu="0"', "80e9x60")],
        [series(m.GPU["memory_used"], f'{H},gpu="0"', "72e9x60"), series(m.GPU["memory_total"], f'{H},gpu="0"', "80e9x60")],
        "12m", {"host": "h1", "gpu": "0"}),
    "GPUXidError": ([series(m.GPU["xid"], f'{H},pci_bus_id="00000000:3B:00.0",xid="79"', "0 0 1 1 1")],
                    [series(m.GPU["xid"], f'{H},pci_bus_id="00000000:3B:00.0",xid="79"', "1x4")], "1m",
                    {"host": "h1", "pci_bus_id": "00000000:3B:00.0", "xid": "79"}),
}


def _write_rules(tmp_path: Path, items: list[a.Alert], *, annotations: bool = True) -> Path:
    rules = a.rules_file(items)
    if not annotations:  # promtool compares annotations exactly; the cases check expressions, holds and labels
        for group in rules["groups"]:
            for rule in group["rules"]:
                rule.pop("annotations")
    path = tmp_path / "rules.yml"
    path.write_text(yaml.safe_dump(rules, sort_keys=False))
    return path


def _promtool_test(tmp_path: Path, items: list[a.Alert], tests: list[dict]) -> None:
    rules = _write_rules(tmp_path, items, annotations=False)
    spec = {"rule_files": [rules.name], "evaluation_interval": "15s", "tests": tests}
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(spec, sort_keys=False))
    result = prometheus_tools.run("promtool", "test", "rules", "tests.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]


def test_the_rules_file_passes_promtool_check(tmp_path):
    result = prometheus_tools.run("promtool", "check", "rules", str(_write_rules(tmp_path, ALL)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(ALL)} rules found" in result.stdout


def test_every_alert_has_a_firing_and_a_quiet_case():
    """Watchdog fires always by design; every other alert needs both cases below."""
    assert set(CASES) == {alert.name for alert in ALL} - {"Watchdog"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_alert_fires_on_its_firing_case_and_not_on_its_quiet_case(tmp_path, name):
    firing, quiet, at, labels = CASES[name]
    severity = next(alert.severity for alert in ALL if alert.name == name)
    expected = [{"exp_labels": {**labels, "severity": severity}}]
    _promtool_test(tmp_path, ALL, [
        {"interval": "15s", "input_series": firing, "alert_rule_test": [{"eval_time": at, "alertname": name,
                                                                         "exp_alerts": expected}]},
        {"interval": "15s", "input_series": quiet, "alert_rule_test": [{"eval_time": at, "alertname": name,
                                                                        "exp_alerts": []}]},
    ])


def test_watchdog_always_fires(tmp_path):
    _promtool_test(tmp_path, ALL, [{"interval": "15s", "input_series": [], "alert_rule_test": [
        {"eval_time": "1m", "alertname": "Watchdog", "exp_alerts": [{"exp_labels": {"severity": "none"}}]}]}])


def test_a_threshold_changed_in_the_inventory_changes_the_rule(tmp_path):
    """verify_thresholds.ttft_p95_ms 900 instead of the profile's 500: 0.8 s no longer fires, 0.95 s does."""
    changed = a.alerts(a.effective_thresholds(DEMO["thresholds"], {"ttft_p95_ms": 900}), **SHAPE)
    rule = next(alert for alert in changed if alert.name == "CanaryTTFTHigh")
    assert rule.expr.endswith("> 0.9") and "ttft_p95_ms = 900" in rule.source
    assert next(alert for alert in changed if alert.name == "EngineTTFTHigh").expr.endswith("> 0.9")
    at = "4m"
    slow = [series(m.CANARY["ttft"], f'{H},path="engine"', "0.95x20")]
    _promtool_test(tmp_path, changed, [
        {"interval": "15s", "input_series": CASES["CanaryTTFTHigh"][0], "alert_rule_test": [
            {"eval_time": at, "alertname": "CanaryTTFTHigh", "exp_alerts": []}]},
        {"interval": "15s", "input_series": slow, "alert_rule_test": [
            {"eval_time": at, "alertname": "CanaryTTFTHigh",
             "exp_alerts": [{"exp_labels": {"host": "h1", "path": "engine", "severity": "warning"}}]}]},
    ])


def test_every_alert_but_watchdog_keeps_the_host_label():
    """Each case's firing alert carries host (checked by promtool above); here: no rule aggregates it away."""
    for alert in ALL:
        if " by (" in alert.expr:
            assert re.search(r"by \([^)]*\bhost\b", alert.expr), alert.name
    assert all(labels.get("host") for _firing, _quiet, _at, labels in CASES.values())


def test_an_ollama_host_gets_no_vllm_metric_alerts():
    names = {alert.name for alert in a.alerts(THRESHOLDS, engine="ollama")}
    assert "EngineDown" in names and not names & {"EngineTTFTHigh", "KVCacheNearlyFull", "EnginePreempting"}


def test_bad_shapes_are_refused():
    with pytest.raises(a.MonitoringError, match="canary interval"):
        a.alerts(THRESHOLDS, canary_interval_s=5)
    with pytest.raises(a.MonitoringError, match="unknown canary paths"):
        a.alerts(THRESHOLDS, paths=("browser",))


VLLM_SCRAPE = REPO / "tests" / "fixtures" / "metrics" / "vllm-0.32.0-cpu.txt"


def test_every_vllm_metric_name_is_in_a_real_scrape_of_the_pinned_version():
    """The names are pinned to vLLM 0.32.0: a scrape of the demo host's /metrics (fixture header says how)."""
    scraped = {line.split("{")[0].split(" ")[0] for line in VLLM_SCRAPE.read_text().splitlines()
               if line and not line.startswith("#")}
    assert {name for name in m.VLLM.values()} <= scraped, {name for name in m.VLLM.values()} - scraped


def test_the_gpu_collector_writes_every_gpu_series_the_rules_use():
    from qwen3_hosttools import gpu_metrics

    csv = (REPO / "tests" / "fixtures" / "nvidia-smi" / "gpu-metrics-query" / "h100.csv").read_text()
    rows = "\n".join(line for line in csv.splitlines() if line and not line.startswith("#"))
    xid = gpu_metrics.parse_kernel_log("NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, name=python3, GPU has fallen off the bus.")
    text = gpu_metrics.render(gpu_metrics.parse_smi(0, rows), xid, 1.0)
    written = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")}
    assert set(m.GPU.values()) <= written, set(m.GPU.values()) - written


def test_the_readme_alert_table_is_generated_from_the_rules():
    text = (REPO / "README.md").read_text()
    start = text.index("<!-- alert-table:")
    table = text[text.index("\n", start) + 1:]
    table = table[:table.index("\n\n") + 1]
    assert table == a.readme_table(ALL), "README's alert table is stale: regenerate it from alerts.readme_table"
