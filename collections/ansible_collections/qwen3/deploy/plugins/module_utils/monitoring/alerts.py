"""Prometheus alert rules from the thresholds that gate verification: one source of truth for deploy and day two.

``effective_thresholds`` is the merge verification makes (``llm.thresholds`` combined with ``verify_thresholds``):
the alerts use the same numbers, with no hidden margin. ``alerts`` lists every alert for a host's shape (engine
kind, canary paths, router, GPU), each with its expression, how long it must hold, severity, the threshold it
comes from and what to do; ``rules_file`` renders them as a Prometheus rules file, ``readme_table`` as the
README's table. Every alert but Watchdog keeps the ``host`` label its series carry (scrape targets are labelled
with the inventory host; router series are mapped from worker URL to host at scrape time).
"""

from __future__ import annotations

from dataclasses import dataclass

from ansible_collections.qwen3.deploy.plugins.module_utils.monitoring import metric_names as m

# Fixed by the issue that asked for them, not by a verification threshold (the README's table says so).
KV_CACHE_ALERT_RATIO = 0.9
KV_CACHE_ALERT_FOR = "10m"
# Scrape jobs (module_utils/monitoring/targets.py names them in the Prometheus configuration).
JOBS = {"engine": "qwen3-engine", "ollama": "qwen3-ollama", "webui": "qwen3-webui", "router": "qwen3-router",
        "node": "qwen3-node", "nginx": "qwen3-nginx"}
CANARY_PATHS = ("engine", "webui", "webui-socket")  # host tool canary; a router host measures it as "engine"


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    hold: str  # Prometheus `for:`; "0s" fires at the first evaluation that matches
    severity: str  # critical, warning, none (Watchdog)
    summary: str
    runbook: str  # what to do, one line
    source: str  # where the threshold comes from
    group: str  # engine, canary, router, host, gpu, pipeline


class MonitoringError(ValueError):
    """Inputs the rules cannot be made from; the message names the variable."""


def effective_thresholds(profile_thresholds: dict, verify_thresholds: dict) -> dict:
    """What verification gates on: the profile's thresholds with verify_thresholds on top (roles/verify)."""
    return {**(profile_thresholds or {}), **(verify_thresholds or {})}


def _number(value: float) -> str:
    return f"{float(value):.6g}"


def _seconds(ms: float) -> str:
    return _number(float(ms) / 1000.0)


def _source(key: str, value) -> str:
    return f"{key} = {value} (llm.thresholds + verify_thresholds, as verification)"


def _engine_alerts(thresholds: dict, engine: str) -> list[Alert]:
    if engine == "ollama":
        return [Alert("EngineDown", f'probe_success{{job="{JOBS["ollama"]}"}} == 0', "1m", "critical",
                      "Ollama on {{ $labels.host }} does not answer /api/version",
                      "systemctl status ollama; journalctl -u ollama -n 100; rerun site.yml", "-", "engine")]
    job = JOBS["engine"]
    out = [Alert("EngineDown", f'up{{job="{job}"}} == 0', "1m", "critical",
                 "vLLM on {{ $labels.host }} cannot be scraped (down or not listening)",
                 "systemctl status qwen3-vllm; journalctl -u qwen3-vllm -n 100; rerun site.yml (it rolls back)",
                 "-", "engine")]
    if "ttft_p95_ms" in thresholds:
        limit = _seconds(thresholds["ttft_p95_ms"])
        out.append(Alert(
            "EngineTTFTHigh",
            f'histogram_quantile(0.95, sum by (host, le) (rate({m.VLLM["ttft_bucket"]}{{job="{job}"}}[5m]))) > {limit}',
            "2m", "warning", "vLLM's own TTFT p95 over 5 minutes on {{ $labels.host }} is {{ $value }} s",
            "compare with the canary's engine path; look for load (queue, preemptions) or a slower release",
            _source("ttft_p95_ms", thresholds["ttft_p95_ms"]), "engine"))
    out += [
        Alert("KVCacheNearlyFull", f'{m.VLLM["kv_cache_usage"]}{{job="{job}"}} > {_number(KV_CACHE_ALERT_RATIO)}',
              KV_CACHE_ALERT_FOR, "warning", "vLLM's KV cache on {{ $labels.host }} is {{ $value }} full",
              "requests will queue and be preempted: lower max_num_seqs / max_model_len or add a host",
              f"fixed: {KV_CACHE_ALERT_RATIO:.0%} for {KV_CACHE_ALERT_FOR}", "engine"),
        Alert("EnginePreempting", f'increase({m.VLLM["preemptions"]}{{job="{job}"}}[10m]) > 0', "0s", "warning",
              "vLLM on {{ $labels.host }} preempted requests in the last 10 minutes",
              "the KV cache is too small for the load: lower max_num_seqs (playbooks/tune.yml) or add a host",
              "fixed: any preemption", "engine"),
        Alert("EngineQueueBuildup", f'{m.VLLM["waiting"]}{{job="{job}"}} > 0', "5m", "warning",
              "{{ $value }} requests have waited on {{ $labels.host }} for 5 minutes",
              "every sequence slot is busy: more hosts, or a tuned max_num_seqs (playbooks/tune.yml)",
              "fixed: waiting > 0 for 5 minutes", "engine"),
    ]
    return out


def _canary_alerts(thresholds: dict, paths: list[str], interval_s: int) -> list[Alert]:
    hold = f"{2 * interval_s}s"  # two canary runs in a row: one slow request is not an incident
    ttft, itl, decode = m.CANARY["ttft"], m.CANARY["itl"], m.CANARY["decode"]
    out = [
        Alert("CanaryPathFailing", f'{m.CANARY["success"]} == 0', f"{interval_s}s", "critical",
              "the canary's {{ $labels.path }} path on {{ $labels.host }} got no answer",
              "the service behind that path is down or refusing: engine, Open WebUI (qwen3-open-webui), nginx, router",
              "-", "canary"),
        Alert("CanaryStale", f'time() - {m.CANARY["last_run"]} > {3 * interval_s}', "0s", "warning",
              "the canary's {{ $labels.path }} path on {{ $labels.host }} has not reported for 3 intervals",
              "systemctl status qwen3-canary.timer qwen3-canary.service; journalctl -u qwen3-canary",
              f"fixed: 3 canary intervals ({3 * interval_s} s)", "canary"),
    ]
    if "ttft_p95_ms" in thresholds:
        out.append(Alert(
            "CanaryTTFTHigh", f'{ttft}{{path="engine"}} > {_seconds(thresholds["ttft_p95_ms"])}', hold,
            "warning",
            "the canary waited {{ $value }} s for the first token on {{ $labels.host }} ({{ $labels.path }})",
            "rerun playbooks/verify.yml for the full picture; check load, the engine's own TTFT, the release",
            _source("ttft_p95_ms", thresholds["ttft_p95_ms"]), "canary"))
    webui = [path for path in paths if path.startswith("webui")]
    if webui and "webui_overhead_p50_ms" in thresholds:
        out.append(Alert(
            "CanaryWebUIOverheadHigh",
            f'{ttft}{{path=~"{"|".join(webui)}"}} - ignoring(path) group_left {ttft}{{path="engine"}} '
            f'> {_seconds(thresholds["webui_overhead_p50_ms"])}', hold, "warning",
            "Open WebUI adds {{ $value }} s to the first token on {{ $labels.host }} ({{ $labels.path }})",
            "Open WebUI is slow while the engine is not: its CPU, database, chunk size (open_webui_stream_chunk_size)",
            _source("webui_overhead_p50_ms", thresholds["webui_overhead_p50_ms"]), "canary"))
    if "itl_p95_ms" in thresholds or thresholds.get("min_decode_tokens_per_s"):
        key = "itl_p95_ms" if "itl_p95_ms" in thresholds else "min_decode_tokens_per_s"
        limit = (_seconds(thresholds["itl_p95_ms"]) if key == "itl_p95_ms"
                 else _number(1.0 / float(thresholds["min_decode_tokens_per_s"])))
        note = "" if key == "itl_p95_ms" else " (the inter-token gap that rate allows: 1 / it)"
        out.append(Alert(
            "CanaryITLHigh", f'{itl}{{path="engine"}} > {limit}', hold, "warning",
            "tokens arrive {{ $value }} s apart on {{ $labels.host }} ({{ $labels.path }})",
            "decode is slow: load, a throttled GPU (qwen3_gpu_* metrics), or a slower release",
            _source(key, thresholds[key]) + note, "canary"))
    if thresholds.get("min_decode_tokens_per_s"):
        out.append(Alert(
            "CanaryDecodeSlow", f'{decode}{{path="engine"}} < {_number(thresholds["min_decode_tokens_per_s"])}',
            hold, "warning", "the canary decoded {{ $value }} tokens/s on {{ $labels.host }} ({{ $labels.path }})",
            "decode is slow: load, a throttled GPU, or a slower release",
            _source("min_decode_tokens_per_s", thresholds["min_decode_tokens_per_s"]), "canary"))
    if "max_error_rate" in thresholds:
        out.append(Alert(
            "CanaryErrorRate", f'{m.CANARY["error_ratio"]} > {_number(thresholds["max_error_rate"])}', hold, "warning",
            "{{ $value }} of the canary's requests failed on {{ $labels.host }} ({{ $labels.path }})",
            "journalctl of the service behind the path; rerun playbooks/verify.yml",
            _source("max_error_rate", thresholds["max_error_rate"]), "canary"))
    if thresholds.get("thinking_allowed") is False:
        out.append(Alert(
            "ThinkingLeak", f'{m.CANARY["thinking_leaks"]} > 0', "0s", "critical",
            "answers on {{ $labels.host }} ({{ $labels.path }}) carry thinking text",
            "the engine or Open WebUI thinks by default again: check chat_template_kwargs / the Modelfile; "
            "rerun site.yml",
            _source("thinking_allowed", False), "canary"))
    return out


def _webui_alerts(nginx: bool) -> list[Alert]:
    proxy = [Alert("ProxyDown", f'{m.NGINX["up"]}{{job="{JOBS["nginx"]}"}} == 0', "1m", "critical",
                   "nginx in front of Open WebUI on {{ $labels.host }} does not answer its status page",
                   "systemctl status nginx; nginx -t; rerun site.yml", "-", "webui")] if nginx else []
    return [*proxy, Alert("WebUIDown", f'probe_success{{job="{JOBS["webui"]}"}} == 0', "1m", "critical",
                  "Open WebUI on {{ $labels.host }} does not answer /health",
                  "systemctl status qwen3-open-webui; journalctl -u qwen3-open-webui -n 100; rerun site.yml",
                  "-", "webui")]


def _router_alerts() -> list[Alert]:
    return [
        Alert("RouterDown", f'up{{job="{JOBS["router"]}"}} == 0', "1m", "critical",
              "vllm-router on {{ $labels.host }} cannot be scraped", "systemctl status qwen3-router; rerun site.yml",
              "-", "router"),
        Alert("RouterWorkerUnhealthy", f'{m.ROUTER["worker_health"]} == 0', "1m", "critical",
              "the router sees engine {{ $labels.host }} as unhealthy",
              "that engine is down or drained outside a rollout: check its EngineDown alert and qwen3-vllm",
              "-", "router"),
        Alert("RouterCircuitOpen", f'{m.ROUTER["cb_state"]} == 1', "0s", "warning",
              "the router's circuit breaker for {{ $labels.host }} is open",
              "requests to that engine failed repeatedly: check the engine; the breaker closes after its timeout",
              "-", "router"),
    ]


def _host_alerts(weights_mountpoint: str, min_free_gib: float) -> list[Alert]:
    if not weights_mountpoint:
        return []
    limit = _number(float(min_free_gib) * 1024**3)
    return [Alert("WeightsDiskLow", f'{m.NODE["fs_avail"]}{{mountpoint="{weights_mountpoint}"}} < {limit}', "10m",
                  "warning", "{{ $labels.host }} has {{ $value | humanize1024 }}B free where the weights live",
                  "free disk before the next deploy: old snapshots under the models directory, old venvs",
                  f"model_weights_min_free_gib = {min_free_gib}", "host")]


def _gpu_alerts(gpu_memory_utilization: float) -> list[Alert]:
    ratio = min(0.99, float(gpu_memory_utilization) + 0.05)
    return [
        Alert("GPUMetricsMissing", f'{m.GPU["up"]} == 0', "5m", "warning",
              "nvidia-smi does not answer on {{ $labels.host }}",
              "the driver is gone or hung: nvidia-smi on the host; gpu_host; a reboot may be needed", "-", "gpu"),
        Alert("GPUMemoryNearlyFull", f'{m.GPU["memory_used"]} / {m.GPU["memory_total"]} > {_number(ratio)}', "10m",
              "warning", "GPU {{ $labels.gpu }} on {{ $labels.host }} is {{ $value }} full",
              "something besides vLLM holds GPU memory: nvidia-smi on the host",
              f"llm.gpu_memory_utilization = {gpu_memory_utilization} + 0.05", "gpu"),
        Alert("GPUXidError", f'increase({m.GPU["xid"]}[15m]) > 0', "0s", "critical",
              "GPU {{ $labels.pci_bus_id }} on {{ $labels.host }} logged Xid {{ $labels.xid }}",
              "look the Xid up in NVIDIA's Xid catalogue; 48/63/64/79/92/94/95 usually need a drain and a reset "
              "or reboot",
              "fixed: any Xid", "gpu"),
    ]


def alerts(thresholds: dict, *, engine: str = "vllm", paths=("engine", "webui", "webui-socket"),
           canary_interval_s: int = 60, router: bool = False, gpu: bool = False, weights_mountpoint: str = "",
           min_free_gib: float = 0, gpu_memory_utilization: float = 0.9, nginx: bool = False) -> list[Alert]:
    """Every alert for one deployment shape, from the thresholds verification gates on."""
    if not isinstance(canary_interval_s, int) or canary_interval_s < 10:
        raise MonitoringError(f"canary interval must be an integer >= 10 s, got {canary_interval_s!r}")
    unknown = [path for path in paths if path not in CANARY_PATHS]
    if unknown:
        raise MonitoringError(f"unknown canary paths {unknown}; known: {', '.join(CANARY_PATHS)}")
    out = [Alert("Watchdog", "vector(1)", "0s", "none", "always firing: proves rules, Prometheus and Alertmanager work",
                 "if it stops arriving, the monitoring pipeline itself is broken", "-", "pipeline")]
    out += _engine_alerts(thresholds, engine)
    if any(path.startswith("webui") for path in paths):
        out += _webui_alerts(nginx)
    out += _canary_alerts(thresholds, list(paths), canary_interval_s)
    if router:
        out += _router_alerts()
    out += _host_alerts(weights_mountpoint, min_free_gib)
    if gpu:
        out += _gpu_alerts(gpu_memory_utilization)
    return out


def rules_file(items: list[Alert]) -> dict:
    """A Prometheus rules file: one group per concern."""
    groups: dict[str, list[dict]] = {}
    for alert in items:
        groups.setdefault(alert.group, []).append({
            "alert": alert.name, "expr": alert.expr, "for": alert.hold,
            "labels": {"severity": alert.severity},
            "annotations": {"summary": alert.summary, "runbook": alert.runbook, "threshold": alert.source},
        })
    return {"groups": [{"name": f"qwen3-{name}", "rules": rules} for name, rules in groups.items()]}


def readme_table(items: list[Alert]) -> str:
    rows = ["| alert | expression | for | severity | threshold from | what to do |",
            "| --- | --- | --- | --- | --- | --- |"]
    for alert in items:
        expr = alert.expr.replace("|", "\\|")
        runbook = alert.runbook.replace("|", "\\|")
        rows.append(f"| `{alert.name}` | `{expr}` | {alert.hold} | {alert.severity} | {alert.source} | {runbook} |")
    return "\n".join(rows) + "\n"
