"""Action qwen3.deploy.browser_measure: a real Chromium on the controller drives the host's Open WebUI page.

    - qwen3.deploy.browser_measure:
        measured: reports/<run>/<host>/measured.json   # the host tool's results, fetched; the browser run is merged in
        url: http://127.0.0.1:8080          # Open WebUI (or the reverse proxy in front of it) as the HOST reaches it
        credentials_file: /etc/qwen3-deploy/open-webui-admin.json   # on the host (0600); read here, never returned
        model: qwen3-demo
        metrics_url: http://127.0.0.1:8000/metrics   # the engine's Prometheus endpoint on the host ("" = none)
        tls_cert_file: /etc/qwen3-deploy/tls/webui-proxy.crt   # on the host: the browser accepts only its key
        prompt: ..., requests: 5, warmup: 1, timeout: 120, time_limit: 600, chromium: /usr/bin/chromium

Loopback URLs of the host are reached through an SSH tunnel opened with the host's own connection settings (a
``local`` connection needs none). Nothing is installed on the host. Writes ``browser.json`` (every request with
its phases) beside ``measured`` and merges the run and its summary into ``measured`` (browser_stats.merge), so
qwen3.deploy.verify_report judges and reports it like the other paths. Returns ``lines`` (a short summary).
"""

from __future__ import annotations

import base64
import json
import os
from urllib.parse import urlsplit, urlunsplit

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible_collections.qwen3.deploy.plugins.module_utils import browser_probe, browser_stats, browser_tunnel

_ARGS = ("measured", "url", "credentials_file", "model", "metrics_url", "tls_cert_file", "prompt", "requests", "warmup",
         "timeout", "time_limit", "chromium", "name")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(_ARGS)

    def _read(self, path: str, what: str, task_vars: dict) -> bytes:
        res = self._execute_module(module_name="ansible.builtin.slurp", module_args={"src": path},
                                   task_vars=task_vars)
        if res.get("failed"):
            raise AnsibleActionFail(f"cannot read {what} {path} on the host: {res.get('msg')}")
        return base64.b64decode(res["content"])

    def _credentials(self, path: str, task_vars: dict) -> tuple[str, str]:
        data = json.loads(self._read(path, "the Open WebUI account file", task_vars))
        return str(data["email"]), str(data["password"])

    def _spki_pins(self, path: str, task_vars: dict) -> list[str]:
        """The proxy certificate's key: Chromium then accepts exactly that key (browser_probe.spki_pin)."""
        return [browser_probe.spki_pin(self._read(path, "the proxy's certificate", task_vars))]

    def _ssh_target(self) -> browser_tunnel.SshTarget | None:
        conn = self._connection
        if conn.transport in ("local", "ansible.builtin.local"):
            return None
        if conn.transport not in ("ssh", "ansible.builtin.ssh"):
            raise AnsibleActionFail(f"browser_measure tunnels over ssh; connection {conn.transport!r} is not supported")

        def opt(name):
            try:
                return conn.get_option(name)
            except KeyError:
                return None

        return browser_tunnel.SshTarget(
            host=opt("host") or self._play_context.remote_addr, port=opt("port"), user=opt("remote_user"),
            private_key_file=opt("private_key_file"),
            ssh_args=browser_tunnel.split_args(opt("ssh_args"), opt("ssh_common_args"), opt("ssh_extra_args")),
            ssh_executable=opt("ssh_executable") or "ssh")

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        task_vars = task_vars or {}
        for key in ("measured", "url", "credentials_file", "model"):
            if not args.get(key):
                raise AnsibleActionFail(f"browser_measure needs {key}")
        try:
            with open(args["measured"], encoding="utf-8") as handle:
                doc = json.load(handle)
        except (OSError, ValueError) as error:
            raise AnsibleActionFail(f"cannot read the measurement {args['measured']}: {error}") from None
        email, password = self._credentials(args["credentials_file"], task_vars)
        page = urlsplit(str(args["url"]))
        metrics = urlsplit(str(args.get("metrics_url") or "")) if args.get("metrics_url") else None
        remotes = [(page.hostname, page.port or (443 if page.scheme == "https" else 80))]
        if metrics is not None:
            remotes.append((metrics.hostname, metrics.port or 80))
        target = self._ssh_target()
        cfg = browser_probe.ProbeConfig(
            url="", email=email, password=password, model=str(args["model"]),
            prompt=str(args.get("prompt") or browser_probe.ProbeConfig.prompt),
            requests=int(args.get("requests", 5)), warmup=int(args.get("warmup", 1)),
            timeout_s=float(args.get("timeout", 120)), time_limit_s=float(args.get("time_limit", 600)),
            chromium=str(args.get("chromium") or browser_probe.DEFAULT_CHROMIUM),
            spki_pins=self._spki_pins(args["tls_cert_file"], task_vars) if args.get("tls_cert_file") else [],
            name=str(args.get("name") or "browser"),
            shown_url=str(args["url"]))

        def local(parts, port):
            return urlunsplit((parts.scheme, f"127.0.0.1:{port}", parts.path, "", ""))

        try:
            if target is None:
                cfg.url, cfg.metrics_url = str(args["url"]), args.get("metrics_url") or None
                run = browser_probe.run(cfg)
            else:
                with browser_tunnel.Tunnel(target, remotes) as tunnel:
                    cfg.url = local(page, tunnel.local[0])
                    cfg.metrics_url = local(metrics, tunnel.local[1]) if metrics is not None else None
                    run = browser_probe.run(cfg)
        except RuntimeError as error:
            run = {"target": cfg.name, "kind": browser_stats.KIND, "title": browser_stats.TITLE, "url": cfg.shown_url,
                   "model": cfg.model, "requested": cfg.requests, "warmup": cfg.warmup, "results": [],
                   "warmup_results": [], "skipped": cfg.requests, "unreachable": str(error)}
        with open(os.path.join(os.path.dirname(args["measured"]), "browser.json"), "w", encoding="utf-8") as fh:
            json.dump(run, fh, indent=1)
        browser_stats.merge(doc, run)
        with open(args["measured"], "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=1)
        summary = doc["summary"]["targets"][cfg.name]
        paint = summary["stats"]["ttft_ms"]
        result.update(changed=False, unreachable=summary["unreachable"], lines=[
            f"{cfg.name}: first painted text p50 {paint['p50']} ms, p95 {paint['p95']} ms, ok "
            f"{summary['ok']}/{summary['attempted']}, thinking blocks {summary['thinking_leaks']}",
            "timeline p50 (ms): " + ", ".join(f"{k} {v}" for k, v in summary["timeline"].items())])
        return result
