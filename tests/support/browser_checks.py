"""Checks of the real-browser path for the e2e test (tests/integration/test_site.py calls these).

``verify_problems(results)``   what is wrong with the browser target in a verify run's results.json: it must have
                               run through the reverse proxy (https), painted every answer, drawn no thinking block,
                               written no '<' (the demo model cannot), produced long answers (>= 1000 tokens each:
                               the cpu-demo cap, as the page asks for no limit), and met the browser thresholds.
                               An empty list is a pass.
``thinking_positive_control(host, proxy_port)``   the same check can fail: through the same proxy, one page request
                               with thinking forced on (the admin's chat params get chat_template_kwargs
                               enable_thinking=true, restored afterwards) must show a thinking block and fail
                               ``thinking_allowed: false``.

Both drive nothing on the host but the deployed services; the browser runs here (Debian's chromium).
"""

from __future__ import annotations

import json
from typing import Any

import requests
from ansible_collections.qwen3.deploy.plugins.module_utils import browser_probe as bp
from ansible_collections.qwen3.deploy.plugins.module_utils import browser_stats as bs
from ansible_collections.qwen3.deploy.plugins.module_utils import browser_tunnel as bt
from ansible_collections.qwen3.deploy.plugins.module_utils import verify_thresholds as vt

from support import testhosts as th

ADMIN_FILE = "/etc/qwen3-deploy/open-webui-admin.json"
CERT_FILE = "/etc/qwen3-deploy/tls/webui-proxy.crt"
BROWSER_KEYS = ("browser_overhead_p50_ms", "browser_first_paint_p95_ms", "socket_probe_gap_pct", "thinking_allowed")


def verify_problems(results: dict, *, min_answers: int = 3, min_tokens: int = 1000) -> list[str]:
    """Problems of the browser path in a verify results.json (empty: it passed)."""
    summary = results["summary"]
    target = next((t for t in summary["targets"].values() if t["kind"] == bs.KIND), None)
    if target is None:
        return ["no browser target in the results (verify_webui_paths lacks browser?)"]
    problems = []
    if target["unreachable"]:
        problems.append(f"browser path unreachable: {target['unreachable']}")
    if not str(target["url"]).startswith("https://"):
        problems.append(f"the browser did not go through the reverse proxy: {target['url']}")
    if target["ok"] < min_answers:
        problems.append(f"only {target['ok']} of {target['attempted']} page requests painted an answer: "
                        f"{target['first_error']}")
    if target["thinking_leaks"]:
        problems.append(f"{target['thinking_leaks']} answers showed a thinking block ({target['thinking_sources']})")
    if target.get("answers_with_lt"):
        problems.append(f"{target['answers_with_lt']} answers contain '<' (the demo model cannot write it)")
    run = next(r for r in results["runs"] if r.get("kind") == bs.KIND)
    short = [r["output_tokens"] for r in run["results"] if (r["output_tokens"] or 0) < min_tokens]
    if short:
        problems.append(f"answers shorter than {min_tokens} tokens: {short}")
    failures = [f for f in results.get("failures") or [] if f["metric"] in BROWSER_KEYS or f["target"] == run["target"]
                or f["metric"] == "thinking_leaks"]
    problems += [f"threshold missed: {f['metric']} {f['value']} (limit {f['limit']}) {f['note']}" for f in failures]
    return problems


def ssh_target(port: int) -> bt.SshTarget:
    return bt.SshTarget(host="127.0.0.1", port=port, user="root", private_key_file=str(th.SSH_KEY),
                        ssh_args=["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"])


def _settings(session: requests.Session, url: str, token: str, ui: dict | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"}
    if ui is None:
        resp = session.get(url + "/api/v1/users/user/settings", headers=headers, timeout=30, verify=False)
    else:
        resp = session.post(url + "/api/v1/users/user/settings/update", json={"ui": ui}, headers=headers,
                            timeout=30, verify=False)
    resp.raise_for_status()
    return resp.json() or {}


def thinking_positive_control(host: Any, proxy_port: int = 443, model: str = "qwen3-demo",
                              timeout_s: float = 180) -> dict:
    """One page request with thinking forced on, through the proxy; returns the request's numbers and the
    threshold failures it causes (the e2e test asserts a thinking block and a thinking_allowed failure)."""
    creds = json.loads(host.exec("cat", ADMIN_FILE).stdout)
    with bt.Tunnel(ssh_target(host.ssh_port), [("127.0.0.1", proxy_port), ("127.0.0.1", 8000)]) as tun:
        url = f"https://127.0.0.1:{tun.local[0]}"
        session = requests.Session()
        token = session.post(url + "/api/v1/auths/signin", json=creds, timeout=30, verify=False).json()["token"]
        before = (_settings(session, url, token).get("ui")) or {}
        forced = {**before, "params": {**(before.get("params") or {}),
                                       "chat_template_kwargs": {"enable_thinking": True}}}
        _settings(session, url, token, forced)
        try:
            cfg = bp.ProbeConfig(url=url, email=creds["email"], password=creds["password"], model=model,
                                 requests=1, warmup=0, timeout_s=timeout_s, time_limit_s=timeout_s * 2,
                                 metrics_url=f"http://127.0.0.1:{tun.local[1]}/metrics", name="browser-thinking",
                                 shown_url=f"https://127.0.0.1:{proxy_port}")
            cfg.spki_pins = [bp.spki_pin(host.exec("cat", CERT_FILE).stdout.encode())]
            run = bp.run(cfg)
        finally:
            # Open WebUI 0.12.4 patches "ui" field by field (open_webui/models/users.py, update_user_settings_by_id:
            # "omission keeps a value; null resets it"), so a key the control added is reset with null.
            _settings(session, url, token, {key: before.get(key) for key in forced})
        restored = _settings(session, url, token).get("ui") or {}
    if restored != before:  # the later tests would all think
        raise AssertionError(f"the admin's settings were not restored: {restored} != {before}")
    doc = {"runs": [], "summary": {"targets": {}, "engine_target": None, "webui_overhead": {}}}
    bs.merge(doc, run)
    failures = vt.check_thresholds(doc["summary"], {"thinking_allowed": False})
    return {"run": run, "failures": [f.metric for f in failures]}
