"""Filters over module_utils/monitoring: where monitoring runs, what it scrapes, its rules and configuration."""

from __future__ import annotations

import math

from ansible.errors import AnsibleFilterError
from ansible_collections.qwen3.deploy.plugins.module_utils.monitoring import (
    agreement,
    alertmanager,
    alerts,
    targets,
    web,
)
from ansible_collections.qwen3.deploy.plugins.module_utils.plain import plain as _plain


def _wrap(function):
    def wrapped(*args, **kwargs):
        try:
            return function(*[_plain(a) for a in args], **{k: _plain(v) for k, v in kwargs.items()})
        except (alerts.MonitoringError, KeyError, TypeError) as error:
            raise AnsibleFilterError(f"{function.__name__}: {error}") from None
    return wrapped


def monitoring_hosts(groups):
    return targets.monitoring_hosts(_plain(groups))


def monitored_hosts(groups, monitor):
    """Inventory hosts ``monitor`` scrapes (every engine and router host it monitors)."""
    groups = _plain(groups)
    candidates = list(dict.fromkeys(groups.get("llm_servers", []) + groups.get("llm_routers", [])))
    return [host for host in candidates if targets.monitored_by(groups, host) == monitor]


def monitoring_facts(hosts, hostvars, workers=None):
    """{host: {address, engine, webui, router, agent, slo, weights, gpus}} from each host's published facts;
    ``workers`` (a router's ``qwen3_router.workers``) gives the address an engine is reached at."""
    out = {}
    for host in hosts:
        facts = hostvars[host]
        worker = (_plain(workers) or {}).get(host, "")
        address = targets.urlsplit(worker).hostname if worker else ""
        out[host] = {"address": address or "",
                     **{key: _plain(facts.get(fact)) for key, fact in (
                         ("engine", "qwen3_engine"), ("webui", "qwen3_webui"), ("router", "qwen3_router"),
                         ("agent", "qwen3_monitoring_agent"), ("slo", "qwen3_slo"), ("weights", "qwen3_weights"))}}
    return out


def monitoring_rules(facts):
    """One rules file for every host a monitoring host watches (thresholds from each host's qwen3_slo)."""
    facts = _plain(facts)
    seen: dict[str, alerts.Alert] = {}
    for _host, info in sorted(facts.items()):
        agent = info.get("agent") or {}
        engine = info.get("engine") or {}
        weights = info.get("weights") or {}
        for alert in alerts.alerts(
                (info.get("slo") or {}).get("thresholds", {}),
                engine=engine.get("engine", "vllm"),
                paths=tuple(agent.get("canary_paths") or ()),
                canary_interval_s=int(agent.get("canary_interval", 60)),
                router=bool(info.get("router")),
                gpu=bool(agent.get("gpu")),
                weights_mountpoint=agent.get("weights_mountpoint", ""),
                min_free_gib=float(weights.get("min_free_gib", 0) or 0),
                gpu_memory_utilization=float(agent.get("gpu_memory_utilization", 0.9)),
                nginx=bool(agent.get("nginx_exporter_url"))):
            if alert.name in seen and seen[alert.name] != alert:
                raise AnsibleFilterError(f"alert {alert.name} differs between the hosts one Prometheus watches: "
                                         "give them the same profile and thresholds, or one llm_monitoring host each")
            seen[alert.name] = alert
    return alerts.rules_file(list(seen.values()))


def expected_canary_series(facts):
    return sorted(f"{host}/{path}" for host, info in _plain(facts).items()
                  for path in ((info.get("agent") or {}).get("canary_paths") or []))


def canary_series_name(metric):
    return f"{metric.get('host', '')}/{metric.get('path', '')}"


def canary_interval(facts):
    return max([int((info.get("agent") or {}).get("canary_interval", 60)) for info in _plain(facts).values()] or [60])


def _value(result, default=math.nan):
    return float(result[0]["value"][1]) if result else default


def ttft_agreement(probe_p95_s, quantile_result, buckets_result, count_result, sent):
    """Problems between the probe's TTFT p95 and Prometheus' over the probe's window (Prometheus query results)."""
    deltas = {item["metric"].get("le"): float(item["value"][1]) for item in _plain(buckets_result)}
    if not deltas:
        return [f"Prometheus has no vLLM TTFT histogram for the probe's window (count {_value(count_result, 0):g})"]
    return agreement.ttft_agreement(float(probe_p95_s), _value(_plain(quantile_result)), deltas,
                                    _value(_plain(count_result), 0.0), int(sent))


class FilterModule:
    def filters(self):
        return {
            "monitoring_hosts": monitoring_hosts,
            "monitored_hosts": monitored_hosts,
            "monitoring_host_of": lambda groups, host: targets.monitored_by(_plain(groups), host),
            "monitoring_facts": monitoring_facts,
            "monitoring_rules": _wrap(monitoring_rules),
            "monitoring_targets": _wrap(targets.expected_targets),
            "monitoring_prometheus_config": _wrap(targets.prometheus_config),
            "monitoring_missing_targets": _wrap(targets.missing_targets),
            "expected_canary_series": expected_canary_series,
            "canary_series_name": canary_series_name,
            "canary_interval": canary_interval,
            "ttft_agreement": _wrap(ttft_agreement),
            "alertmanager_config": _wrap(alertmanager.config),
            "alertmanager_silence": _wrap(alertmanager.silence),
            "alertmanager_rollout_stopped": _wrap(alertmanager.rollout_stopped),
            "monitoring_listen": _wrap(web.listen),
            "monitoring_opened_listeners": _wrap(web.opened_listeners),
            "monitoring_client_url": _wrap(web.client_url),
            "monitoring_certificate_names": _wrap(web.certificate_names),
            "monitoring_web_config": _wrap(web.web_config),
            "htpasswd_hash": _wrap(web.htpasswd_hash),
            "monitoring_alertmanager_client": _wrap(web.alertmanager_client),
        }
