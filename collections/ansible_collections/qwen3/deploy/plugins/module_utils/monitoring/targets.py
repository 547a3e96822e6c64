"""What the monitoring host scrapes, derived from the inventory's published facts, and the Prometheus configuration.

``monitoring_hosts`` picks where Prometheus and Alertmanager run: the ``llm_monitoring`` group when the inventory has
one, else the first router host of a fleet, else every engine host monitors itself. ``expected_targets`` lists every
(job, host, URL) a monitoring host must scrape, from what each host publishes (``qwen3_engine``, ``qwen3_webui``,
``qwen3_router``, ``qwen3_monitoring_agent``); ``prometheus_config`` renders it with the alert rules and Alertmanager.
Verification compares Prometheus' own target list with ``expected_targets``: a target missing from the configuration
fails the run, not only a target that is down.

Every target carries the label ``host`` (the inventory name), so every alert says which host. Router series are
labelled by the worker URL upstream (FACTS §11); ``router_relabels`` maps each worker URL to its inventory host.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ansible_collections.qwen3.deploy.plugins.module_utils.monitoring.alerts import JOBS, MonitoringError

LOOPBACK = ("127.0.0.1", "::1", "localhost")
WILDCARDS = ("0.0.0.0", "::")  # noqa: S104 - bind addresses we recognise, not ones we bind
CANARY_JOB = "qwen3-canary"  # not scraped itself: the canary's gauges come through node exporter's textfile collector


def monitoring_hosts(groups: dict) -> list[str]:
    """Where the monitoring server runs, from the inventory's groups."""
    if groups.get("llm_monitoring"):
        return list(groups["llm_monitoring"])
    if groups.get("llm_routers"):
        return list(groups["llm_routers"][:1])
    return list(groups.get("llm_servers", []))


def monitored_by(groups: dict, host: str) -> str:
    """The monitoring host that scrapes ``host``: a self-monitoring engine host scrapes itself."""
    servers = monitoring_hosts(groups)
    if host in servers:
        return host
    if groups.get("llm_monitoring") or groups.get("llm_routers"):
        return servers[0]
    return host


def _reachable(url: str, bind_host: str, host_address: str, local: bool) -> str:
    """``url`` (how the host itself reaches a service bound to ``bind_host``) as the monitoring host reaches it:
    unchanged on the same host; else the service's own address, or the host's for a wildcard bind."""
    parts = urlsplit(url)
    if local:
        return url
    bind = bind_host or parts.hostname or ""
    if bind in LOOPBACK:
        raise MonitoringError(f"{url} listens on loopback only, so the monitoring host cannot scrape it: bind it "
                              "where the monitoring host reaches it (and let the firewall admit only that host)")
    address = host_address if bind in WILDCARDS else bind
    if not address:
        raise MonitoringError(f"{url} listens on every address but the host's address is not known")
    address = f"[{address}]" if ":" in address else address
    return parts._replace(netloc=f"{address}:{parts.port}").geturl()


def expected_targets(monitor: str, hosts: dict) -> list[dict]:
    """Every target ``monitor`` scrapes: ``hosts`` maps inventory name to its published facts and address
    (``{"address", "engine", "webui", "router", "agent"}``, each fact optional)."""
    out = []
    for name in sorted(hosts):
        facts = hosts[name]
        local = name == monitor
        address = facts.get("address", "")
        agent = facts.get("agent") or {}
        if agent.get("node_exporter_url"):
            out.append({"job": JOBS["node"], "host": name, "kind": "scrape",
                        "url": _reachable(agent["node_exporter_url"], agent.get("node_exporter_host", ""), address,
                                          local) + "/metrics"})
        if agent.get("nginx_exporter_url"):
            out.append({"job": JOBS["nginx"], "host": name, "kind": "scrape",
                        "url": _reachable(agent["nginx_exporter_url"], agent.get("node_exporter_host", ""), address,
                                          local) + "/metrics"})
        engine = facts.get("engine") or {}
        if engine.get("engine") == "vllm":
            out.append({"job": JOBS["engine"], "host": name, "kind": "scrape",
                        "url": _reachable(engine["url"], engine.get("bind_host", ""), address, local)
                        + engine.get("metrics_path", "/metrics")})
        elif engine.get("engine") == "ollama":
            out.append({"job": JOBS["ollama"], "host": name, "kind": "probe",
                        "url": _reachable(engine["url"], engine.get("bind_host", ""), address, local) + "/api/version"})
        webui = facts.get("webui") or {}
        if webui.get("url"):
            out.append({"job": JOBS["webui"], "host": name, "kind": "probe",
                        "url": _reachable(webui["url"], webui.get("bind_host", ""), address, local) + "/health"})
        router = facts.get("router") or {}
        if router.get("metrics_url"):
            out.append({"job": JOBS["router"], "host": name, "kind": "scrape",
                        "url": _reachable(router["metrics_url"], "127.0.0.1", address, local)})
    return out


def router_relabels(workers: dict) -> list[dict]:
    """``metric_relabel_configs`` that give router series the inventory host of the worker URL they are about.
    ``workers`` maps inventory host to worker URL (``qwen3_router.workers``); the router names the worker in label
    ``worker``."""
    rules = []
    for host, url in sorted(workers.items()):
        escaped = "".join("\\" + c if c in ".[]()?*+^$|\\{}" else c for c in url.rstrip("/"))
        rules.append({"source_labels": ["worker"], "regex": escaped + "/?", "target_label": "host",
                      "replacement": host})
    return rules


def _static(target: dict) -> dict:
    parts = urlsplit(target["url"])
    return {"targets": [parts.netloc], "labels": {"host": target["host"]}}


def prometheus_config(targets: list[dict], *, scrape_interval_s: int, alertmanager: str, rules_files: list[str],
                      blackbox: str = "", router_workers: dict | None = None,
                      alertmanager_client: dict | None = None) -> dict:
    """The Prometheus configuration: one job per kind, each target labelled ``host``; ``alertmanager_client``
    (module_utils/monitoring/web.alertmanager_client) when Alertmanager sits behind TLS and basic auth."""
    if scrape_interval_s < 5:
        raise MonitoringError(f"scrape interval must be >= 5 s, got {scrape_interval_s}")
    interval = f"{scrape_interval_s}s"
    jobs: dict[str, dict] = {}
    for target in targets:
        parts = urlsplit(target["url"])
        if target["kind"] == "scrape":
            job = jobs.setdefault(target["job"], {
                "job_name": target["job"], "scheme": parts.scheme, "metrics_path": parts.path or "/metrics",
                "static_configs": []})
            job["static_configs"].append(_static(target))
            if target["job"] == JOBS["router"] and router_workers:
                job["metric_relabel_configs"] = router_relabels(router_workers)
        else:
            if not blackbox:
                raise MonitoringError(f"{target['job']} needs the blackbox exporter, which is not configured")
            job = jobs.setdefault(target["job"], {
                "job_name": target["job"], "metrics_path": "/probe", "params": {"module": ["http_2xx"]},
                "static_configs": [],
                "relabel_configs": [
                    {"source_labels": ["__address__"], "target_label": "__param_target"},
                    {"source_labels": ["__param_target"], "target_label": "instance"},
                    {"target_label": "__address__", "replacement": blackbox},
                ]})
            job["static_configs"].append({"targets": [target["url"]], "labels": {"host": target["host"]}})
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "alerting": {"alertmanagers": [
            {**(alertmanager_client or {}), "static_configs": [{"targets": [alertmanager]}]}]},
        "rule_files": list(rules_files),
        "scrape_configs": [jobs[name] for name in sorted(jobs)],
    }


def missing_targets(expected: list[dict], active: list[dict]) -> list[str]:
    """Expected targets Prometheus does not scrape, and those it scrapes but that are not up, one line each.
    ``active`` is ``/api/v1/targets``' ``data.activeTargets``."""
    seen = {(t.get("labels", {}).get("job"), t.get("labels", {}).get("host")): t for t in active}
    lines = []
    for target in expected:
        found = seen.get((target["job"], target["host"]))
        if found is None:
            lines.append(f"{target['job']} on {target['host']} ({target['url']}) is not in Prometheus' configuration")
        elif found.get("health") != "up":
            why = found.get("lastError") or found.get("health") or "unknown"
            lines.append(f"{target['job']} on {target['host']} ({target['url']}) is {found.get('health')}: {why}")
    return lines
