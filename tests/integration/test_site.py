"""End to end: the real site.yml onto one booted Debian 12 systemd host, as an operator runs it, in order.

Bad input changes nothing; the first converge (vLLM CPU build + tiny model + Open WebUI + verification) runs at
-vvv while a watcher inside the host reads every process's argv and environment 20 times a second, and no secret
appears anywhere; a second run changes nothing; check mode changes nothing; verification fails on a listener nobody
opened and on an engine that is down; a release that crash-loops and one that fails verification are rolled back;
a real Chromium paints answers through the reverse proxy without thinking; chunk size 8 and a rotated admin password
reach the browser path and the admin; Ollama (the binary is a STAND-IN,
tests/ollama_standin: the real one cannot be downloaded here) does not think for clients that leave `think` out;
the host-state suite (testinfra) passes; host-key checking is on outside the demo inventory; the collection built
from this repository converges the host from a user's playbook; day two (Prometheus, Alertmanager, exporters, the
canary) listens on loopback only and proves its pipeline, its dashboard renders in Chromium, and fault drills fire
and resolve the alerts operators need.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest
import requests
from ansible_collections.qwen3.deploy.plugins.module_utils import browser_tunnel as bt
from ansible_collections.qwen3.deploy.plugins.module_utils.verify_thresholds import chunk_band, round_half_up
from support import browser_checks, ollama_thinking, secret_table, timings
from support import collection as coll
from support import host_checks as hc
from support import monitoring_checks as mc
from support.paths import tool
from support.testhosts.playbook import parse_play_recap

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
HOST = "e2e-1"
DEMO_VARS = {"vllm_service_api_key": "demo-vllm-key-not-secret", "open_webui_admin_password": "demo-admin-password-not-secret"}
ADMIN_EMAIL = "admin@example.com"
# The generated session signing key is read from the host after the first converge and checked like the others.
GENERATED_KEY = "open_webui_secret_key"
# Fewer measured requests than the demo's 20: the e2e test verifies many times.
FAST_VERIFY = {"verify_requests": 8, "verify_warmup": 1}
record = timings.recorder("e2e-timings.json")


@pytest.fixture(scope="module")
def site(demo_site):
    """The e2e host with an inventory directory that reuses the demo inventory's group_vars."""
    return demo_site("e2e")


@pytest.fixture(scope="module")
def standin_archive():
    """The Ollama STAND-IN archive (test double) and its sha256."""
    out = REPO / ".cache" / "ollama-standin"
    printed = subprocess.run(["python3", str(REPO / "tests" / "ollama_standin" / "build.py"), str(out)],
                             check=True, capture_output=True, text=True).stdout
    for line in printed.splitlines():
        sha, path = line.split()
        if path.endswith(".tar.zst"):
            return {"ollama_service_archive_src": path, "ollama_service_archive_sha256": sha}
    raise AssertionError(f"no .tar.zst archive in: {printed}")


def latest_results() -> dict:
    newest = sorted((REPO / "reports").glob(f"2*/{HOST}/results.json"))[-1]
    return json.loads(newest.read_text())


def secrets_in_processes(hits: list[dict], variables: list[str], phase: str) -> list[dict]:
    """Watcher findings the README's secret table does not allow (tests/support/secret_table.py): any command line,
    and any environment but those of the units the table names for that secret (first-deploy or steady)."""
    allowed = secret_table.allowed_units(phase)
    return [hit for hit in hits
            if hit["where"] != "environ" or hit["unit"] not in allowed.get(variables[hit["secret_index"]], set())]


def processes_now(host, secrets: list[str]) -> list[dict]:
    """One look at every process's argv and environment on the host (the watcher for about a second)."""
    watch = hc.Watch(host).start(secrets)
    time.sleep(1.0)
    return watch.stop().hits


def exec_start(host) -> str:
    """The engine unit's command line: systemctl show's ExecStart also carries the running process's start time
    and pid, which every restart changes."""
    value = hc.unit_show(host, "qwen3-vllm.service", "ExecStart")["ExecStart"]
    return re.search(r"argv\[\]=(.*?) ; ", value).group(1)


# --- before anything changed -----------------------------------------------------------------------------------

MANY_BAD = {
    "vllm_service_port": 0,
    "open_webui_host": "127.0.0.1 --evil",
    "open_webui_stream_chunk_size": 0,
    "verify_thresholds": {"ttft_p95_ms": -1},
    "verify_requests": "many",
    "model_weights_retries": -3,
    "ollama_service_env": {"GGML_CUDA_NMMU_BLOCKS": 1},
    "host_base_proxy_env": {"LD_PRELOAD": "/x.so"},
    "llm_profile_overrides": {"max_model_len": 9000},
}


def test_bad_input_fails_in_preflight_naming_every_variable_and_changes_nothing(site, run_playbook):
    host, inventory = site
    before = hc.fingerprint(host)
    result = run_playbook("site.yml", inventory, extra_vars=MANY_BAD)
    assert result.rc != 0
    assert "PLAY [Base plumbing" not in result.stdout, "a play after preflight ran"
    for name in MANY_BAD:
        if name != "llm_profile_overrides":
            assert name in result.stdout, f"{name} not named:\n{hc.ansible_messages(result.stdout)}"
    unknown = run_playbook("site.yml", inventory, extra_vars={"llm_profile_overrides": {"max_model_len": 9000}})
    assert "llm_profile_overrides.max_model_len: 9000 is more than the model supports" in unknown.stdout
    assert hc.fingerprint(host) == before, "the host changed although the input was refused"


# --- first converge, watched ----------------------------------------------------------------------------------

def test_first_converge_serves_verifies_and_leaks_no_secret(site, run_playbook):
    host, inventory = site
    secrets = list(DEMO_VARS.values())
    watch = hc.Watch(host).start(secrets)
    started = time.monotonic()
    result = run_playbook("site.yml", inventory, args=("-vvv",), timeout=2700)
    record("first converge (-vvv, watched)", time.monotonic() - started)
    watch.stop()
    assert result.rc == 0, hc.ansible_messages(result.stdout)[-5000:]
    active = hc.sh(host, "systemctl is-active qwen3-vllm qwen3-open-webui").stdout.split()
    assert active == ["active", "active"]
    assert sorted((REPO / "reports").glob(f"*/{HOST}/summary.md")), "verification wrote no report"

    assert watch.rate_hz >= 10, f"the watcher polled at {watch.rate_hz:.1f} Hz only"
    # Where a secret may be in a process environment is the README's table (its allow-list): vLLM's key in vLLM and
    # Open WebUI, the admin password in Open WebUI during its first start only. No command line, ever.
    variables = list(DEMO_VARS)
    exposed = secrets_in_processes(watch.hits, variables, "first-deploy")
    assert exposed == [], f"secrets in a process's argv/environ: {exposed}"
    generated_key = hc.sh(host, "cat /etc/qwen3-deploy/open-webui.secret_key").stdout.strip()
    secrets.append(generated_key)
    variables.append(GENERATED_KEY)
    now = processes_now(host, secrets)
    assert secrets_in_processes(now, variables, "steady") == [], f"after the deploy: {now}"
    assert not [hit for hit in now if variables[hit["secret_index"]] == "open_webui_admin_password"], now
    assert {hit["unit"] for hit in now} >= {"qwen3-vllm.service", "qwen3-open-webui.service"}, now  # the check sees
    for name, text in (("stdout -vvv", result.stdout), ("stderr", result.stderr)):
        assert not [s for s in secrets if s in text], f"a secret in ansible-playbook's {name}"
    assert hc.journal_mentions(host, secrets) == 0, "a secret in the journal"
    units = "qwen3-vllm.service qwen3-open-webui.service"
    shown = hc.sh(host, f"systemctl show {units} --no-pager").stdout
    assert not [s for s in secrets if s in shown], "a secret in systemctl show"
    reports = "\n".join(p.read_text(errors="ignore") for p in (REPO / "reports").rglob("*") if p.is_file())
    assert not [s for s in secrets if s in reports], "a secret in reports/"
    holders = hc.files_containing(host, secrets)
    copies = re.compile(r"^600 root /var/lib/qwen3-deploy/releases/[^/]+/(good|pending)/\d+$")
    table = secret_table.files()
    assert [line for line in holders
            if not copies.match(line) and not (line.startswith("600 ") and line.split(" ", 2)[2] in table)] == [], holders


def test_the_browser_path_paints_answers_through_the_proxy_without_thinking(site):
    """The first converge's verification drove a real Chromium through nginx (HTTPS) to the Open WebUI page: every
    answer painted, no thinking block, the browser thresholds met. Positive control: the same page check, with
    thinking forced on for the admin, sees the thinking block and fails thinking_allowed."""
    host, _ = site
    assert browser_checks.verify_problems(latest_results()) == []
    control = browser_checks.thinking_positive_control(host)
    assert control["run"]["results"][0]["thinking_block"], control["run"]["results"][0]
    assert "thinking_leaks" in control["failures"], control["failures"]  # the metric thinking_allowed: false judges


def test_second_run_changes_nothing(site, run_playbook):
    _, inventory = site
    started = time.monotonic()
    result = run_playbook("site.yml", inventory, extra_vars=FAST_VERIFY)
    record("second run", time.monotonic() - started)
    assert result.rc == 0, hc.ansible_messages(result.stdout)[-5000:]
    assert result.changed(HOST) == 0, result.stdout[-8000:]


def test_check_mode_reports_without_changing(site, run_playbook):
    host, inventory = site
    before = hc.fingerprint(host)
    result = run_playbook("site.yml", inventory, args=("--check",))
    assert result.rc == 0, hc.ansible_messages(result.stdout)[-5000:]
    assert result.changed(HOST) == 0, result.stdout[-8000:]
    assert hc.fingerprint(host) == before


def test_a_users_playbook_from_the_installed_collection_converges_the_demo_host(site, tmp_path):
    """README "Use the roles from your own playbooks": the collection built from this repository and installed from
    its tarball into a fresh directory; the user's three-line playbook, run from the user's own directory (this
    repository's ansible.cfg does not apply), converges the demo host site.yml deployed: nothing to change.
    (A fresh host from the collection alone: tests/integration/test_collection_fresh_host.py, opt-in.)"""
    _, inventory = site
    started = time.monotonic()
    workdir = tmp_path / "user"
    workdir.mkdir()
    fresh = coll.install(coll.build(tmp_path / "build").tarball, workdir / "collections", cwd=workdir)
    (workdir / "play.yml").write_text(coll.USER_PLAYBOOK)
    proc = coll.run(["ansible-playbook", "-i", str(inventory), "play.yml"], cwd=workdir, collections=fresh,
                    timeout=1800)
    record("user's playbook from the installed collection", time.monotonic() - started)
    assert proc.returncode == 0, hc.ansible_messages(proc.stdout)[-5000:] + proc.stderr[-2000:]
    recap = parse_play_recap(proc.stdout)
    assert recap[HOST]["changed"] == 0 and recap[HOST]["ok"] > 50, proc.stdout[-6000:]


# --- day two: monitoring on the demo host -------------------------------------------------------------------------

MONITORING_PORTS = {9090: "Prometheus", 9093: "Alertmanager", 9094: "Alertmanager gossip (must be off)",
                    9100: "node exporter", 9113: "nginx exporter", 9115: "blackbox exporter", 8089: "nginx stub_status"}
CANARY_INTERVAL = 30  # inventories/demo: monitoring_agent_canary_interval


def test_day_two_runs_on_loopback_and_proves_its_pipeline(site):
    host, _ = site
    health = {(t["labels"]["job"], t["labels"]["host"]): t["health"] for t in mc.targets(host)}
    assert health == {("qwen3-node", HOST): "up", ("qwen3-engine", HOST): "up", ("qwen3-webui", HOST): "up",
                      ("qwen3-nginx", HOST): "up"}
    assert [r["value"][1] for r in mc.query(host, 'nginx_up{job="qwen3-nginx"}')] == ["1"]
    assert [r["value"][1] for r in mc.query(host, 'probe_success{job="qwen3-webui"}')] == ["1"]
    ages = {r["metric"]["path"]: float(r["value"][1])
            for r in mc.query(host, "time() - qwen3_canary_last_run_timestamp_seconds")}
    assert set(ages) == {"engine", "webui", "webui-socket"} and max(ages.values()) < 3 * CANARY_INTERVAL, ages
    assert {r["metric"]["path"]: r["value"][1] for r in mc.query(host, "qwen3_canary_success")} == {
        "engine": "1", "webui": "1", "webui-socket": "1"}
    assert "Watchdog" in mc.names(mc.firing(host))
    listening = [line.split()[3] for line in hc.sh(host, "ss -Htln").stdout.splitlines()]
    ours = [address for address in listening if int(address.rsplit(":", 1)[1]) in MONITORING_PORTS]
    assert sorted(ours) == ["127.0.0.1:8089", "127.0.0.1:9090", "127.0.0.1:9093", "127.0.0.1:9100", "127.0.0.1:9113",
                            "127.0.0.1:9115"], listening
    # The canary's chats never reach a user's list, and the canary account is not the admin.
    account = json.loads(hc.sh(host, "cat /etc/qwen3-deploy-canary/account.json").stdout)
    assert account["email"] != ADMIN_EMAIL
    assert hc.sh(host, "stat -c %a /etc/qwen3-deploy-canary/account.json").stdout.strip() == "600"


def _dashboard(host, out: Path) -> str:
    with bt.Tunnel(browser_checks.ssh_target(host.ssh_port), [("127.0.0.1", 9090)]) as tunnel:
        url = f"http://127.0.0.1:{tunnel.local[0]}/consoles/qwen3.html"
        html = requests.get(url, timeout=30).text
        subprocess.run(["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        "--window-size=1400,1500", f"--screenshot={out}", url],
                       check=True, capture_output=True, timeout=120)
    return html


def test_the_dashboard_shows_every_path_in_a_real_browser(site):
    host, _ = site
    shot = REPO / "reports" / "dashboard.png"
    shot.parent.mkdir(exist_ok=True)
    html = _dashboard(host, shot)
    assert "error executing template" not in html.lower(), html[:2000]
    for text in ("Engines (vLLM", "Canary: the user's path", "webui-socket", "Watchdog", HOST):
        assert text in html, text
    assert shot.stat().st_size > 20_000


def _firing(booted, **labels) -> set[str]:
    return mc.names(mc.firing(booted), **labels)


def test_fault_drills_fire_the_alerts_and_resolve_them(site):
    """Against the real stack with the demo's own thresholds: each alert is inactive before its fault, fires in
    Alertmanager, and is resolved after."""
    host, _ = site
    started = time.monotonic()
    drilled = {"EngineDown", "CanaryPathFailing", "WebUIDown", "CanaryTTFTHigh"}
    mc.wait_until("the drilled alerts inactive before the drills", lambda: not _firing(host) & drilled, timeout=240)

    hc.sh(host, "systemctl stop qwen3-vllm.service")
    try:
        record("drill: EngineDown firing after", mc.wait_until(
            "EngineDown firing", lambda: "EngineDown" in _firing(host, host=HOST), timeout=120))
    finally:
        hc.sh(host, "systemctl start qwen3-vllm.service")
    hc.wait_http(host, "http://127.0.0.1:8000/health", timeout=300)
    mc.wait_until("EngineDown resolved", lambda: "EngineDown" not in _firing(host), timeout=120)
    mc.wait_until("the canary's engine path answers again", lambda: "CanaryPathFailing" not in _firing(host),
                  timeout=240)

    hc.sh(host, "systemctl stop qwen3-open-webui.service")
    try:
        record("drill: Open WebUI canary firing after", mc.wait_until(
            "CanaryPathFailing on the webui path", lambda: "CanaryPathFailing" in _firing(host, path="webui"),
            timeout=150))
        assert "CanaryPathFailing" not in _firing(host, path="engine") and "EngineDown" not in _firing(host)
    finally:
        hc.sh(host, "systemctl start qwen3-open-webui.service")
    hc.wait_http(host, "http://127.0.0.1:8080/health", timeout=300)
    mc.wait_until("Open WebUI's alerts resolved", lambda: not _firing(host) & {"CanaryPathFailing", "WebUIDown"},
                  timeout=240)

    # A slow engine: more concurrent long answers than max_num_seqs, so requests wait for a sequence slot (cgroup CPU
    # quotas do not reach the unit inside these docker test hosts, and vLLM's cgroup weight ignores Nice).
    assert "CanaryTTFTHigh" not in _firing(host)
    mc.start_load(host, seconds=420, streams=12)
    try:
        record("drill: CanaryTTFTHigh firing after", mc.wait_until(
            "CanaryTTFTHigh firing", lambda: "CanaryTTFTHigh" in _firing(host, path="engine"), timeout=360))
    finally:
        mc.stop_load(host)
    mc.wait_until("CanaryTTFTHigh resolved", lambda: "CanaryTTFTHigh" not in _firing(host), timeout=240)
    record("fault drills", time.monotonic() - started)


# --- the engine as clients see it -------------------------------------------------------------------------------

# Runs on the host (python3 stdlib only); reads the key from the role's 0600 file, so it never is in an argv.
CHAT_CLIENT = r"""
import json, re, sys, time, urllib.request
key = re.search(r"VLLM_API_KEY='?([^'\n]*)", open("/etc/qwen3-deploy/vllm.env").read()).group(1)
body = {"model": "qwen3-demo", "stream": True, "max_tokens": 16, "ignore_eos": True,
        "messages": [{"role": "user", "content": "Say hello."}]}
if sys.argv[1] == "think":
    body["chat_template_kwargs"] = {"enable_thinking": True}
request = urllib.request.Request("http://127.0.0.1:8000/v1/chat/completions", data=json.dumps(body).encode(),
    headers={"Content-Type": "application/json", "Authorization": "Bearer " + key})
content, reasoning = "", 0
with urllib.request.urlopen(request, timeout=120) as response:
    for raw in response:
        line = raw.decode().strip()
        if line.startswith("data: {"):
            for choice in json.loads(line[6:]).get("choices", []):
                delta = choice.get("delta") or {}
                reasoning += bool(delta.get("reasoning") or delta.get("reasoning_content"))
                content += delta.get("content") or ""
print(json.dumps({"content": content, "reasoning_deltas": reasoning}))
"""


def _chat(host, mode: str = "plain") -> dict:
    out = hc.sh(host, f"python3 - {mode} <<'EOF'\n{CHAT_CLIENT}\nEOF").stdout
    return json.loads(out.strip().splitlines()[-1])


def test_engine_answers_as_promised(site):
    """/v1 needs the key (and /health does not); no reasoning by default; asking for thinking yields reasoning (so
    the zero-reasoning check can fail); kill -9 of the server is restarted by systemd and serves again."""
    host, _ = site
    code = "curl -s -o /dev/null -w '%{http_code}' "
    assert hc.sh(host, code + "http://127.0.0.1:8000/v1/models").stdout == "401"
    assert hc.sh(host, code + "http://127.0.0.1:8000/health").stdout == "200"
    plain = _chat(host)
    assert plain["content"] and plain["reasoning_deltas"] == 0, plain
    assert _chat(host, "think")["reasoning_deltas"] > 0
    old = int(hc.unit_show(host, "qwen3-vllm.service", "MainPID")["MainPID"])
    hc.sh(host, f"kill -9 {old}")
    started = time.monotonic()
    time.sleep(2)
    hc.wait_http(host, "http://127.0.0.1:8000/health", timeout=240)
    record("serving again after kill -9 (s)", time.monotonic() - started)
    assert int(hc.unit_show(host, "qwen3-vllm.service", "MainPID")["MainPID"]) != old
    assert _chat(host)["content"]


# --- what verification catches ---------------------------------------------------------------------------------

def test_a_listener_nobody_opened_fails_verification(site, run_playbook):
    host, inventory = site
    # The IPv6 listener is IPv6-only: a dual-stack [::] socket cannot bind the port the IPv4 one holds.
    for name, family, addr, v6only in (("stray4", "AF_INET", "0.0.0.0", ""),
                                       ("stray6", "AF_INET6", "::", "s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1); ")):
        code = (f"import socket,time; s=socket.socket(socket.{family}); s.setsockopt(socket.SOL_SOCKET, "
                f"socket.SO_REUSEADDR, 1); {v6only}s.bind(('{addr}', 47{len(name)}1)); s.listen(); time.sleep(600)")
        hc.sh(host, f"systemctl reset-failed qwen3-test-{name} 2>/dev/null; "
                    f"systemd-run --unit=qwen3-test-{name} python3 -c \"{code}\"")
    try:
        time.sleep(1)
        result = run_playbook("playbooks/verify.yml", inventory, extra_vars=FAST_VERIFY)
        assert result.rc != 0
        assert "qwen3-test-stray4.service" in result.stdout and "qwen3-test-stray6.service" in result.stdout
        assert "0.0.0.0:4761" in result.stdout and "[::]:4761" in result.stdout
    finally:
        hc.sh(host, "systemctl stop qwen3-test-stray4 qwen3-test-stray6; systemctl reset-failed 'qwen3-test-*'")


def test_an_engine_that_is_down_fails_whatever_the_thresholds_say(site, run_playbook):
    host, inventory = site
    hc.sh(host, "systemctl stop qwen3-vllm")
    try:
        result = run_playbook("playbooks/verify.yml", inventory,
                              extra_vars={**FAST_VERIFY, "verify_fail_on_threshold": False})
        assert result.rc != 0
        assert "engine (vLLM) not reachable at http://127.0.0.1:8000" in result.stdout
    finally:
        hc.sh(host, "systemctl start qwen3-vllm")
        hc.wait_http(host, "http://127.0.0.1:8000/health")


# --- rollback ------------------------------------------------------------------------------------------------

def _seconds(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in output:\n{hc.ansible_messages(text)[-3000:]}"
    return float(match.group(1))


def test_a_release_that_crash_loops_is_detected_and_rolled_back(site, run_playbook):
    host, inventory = site
    good = exec_start(host)
    result = run_playbook("site.yml", inventory, extra_vars={**FAST_VERIFY, "vllm_service_extra_args": {"no-such-flag": True}})
    assert result.rc != 0
    assert "ROLLED BACK qwen3-vllm.service" in result.stdout
    # The failed start's own journal (by its invocation id), the line that says why on top: within the first five
    # lines of the message, not under the previous process's shutdown noise.
    message = next(m for m in hc.failure_messages(result.stdout) if any("ROLLED BACK" in line for line in m))
    assert any("unrecognized arguments: --no-such-flag" in line for line in message[:5]), message[:12]
    assert len(message) <= 3 + 40 + 1, len(message)  # rollback line, why, heading, vllm_service_journal_lines
    detected = _seconds(r"is not healthy: .*? after ([0-9.]+) s", result.stdout)
    serving = _seconds(r"serving again ([0-9.]+) s after the failure was seen", result.stdout)
    record("crash loop detected after (s)", detected)
    record("serving again after rollback (s)", serving)
    assert detected < 30 and serving < 90, (detected, serving)
    assert exec_start(host) == good
    hc.wait_http(host, "http://127.0.0.1:8000/health", timeout=10)


# Answers 200 to everything, like a service that is not vLLM but has a /health.
DECOY = ("import http.server as h\n"
         "class D(h.BaseHTTPRequestHandler):\n"
         "    def do_GET(self):\n"
         "        self.send_response(200); self.end_headers(); self.wfile.write(b'{}')\n"
         "h.HTTPServer(('127.0.0.1', 8000), D).serve_forever()\n")


def test_a_decoy_on_the_engines_port_fails_the_health_wait_naming_it(site, run_playbook):
    """Another process answers /health on the engine's port (appearing after preflight, which would refuse it):
    the wait fails within two polls naming it; the rollback's known good release cannot bind either, so the unit
    is left stopped with its good files and the run says so. Freeing the port and starting it serves again."""
    host, inventory = site
    good = exec_start(host)
    subprocess.run(["docker", "exec", "-i", host.name, "sh", "-c", "cat > /root/qwen3-decoy.py"], input=DECOY,
                   text=True, check=True)
    hc.sh(host, "systemctl stop qwen3-vllm; systemctl reset-failed qwen3-test-decoy 2>/dev/null; "
                "systemd-run --unit=qwen3-test-decoy python3 /root/qwen3-decoy.py")
    try:
        hc.wait_http(host, "http://127.0.0.1:8000/health", timeout=30)
        result = run_playbook("playbooks/serve.yml", inventory, extra_vars={"vllm_service_extra_args": {"max-logprobs": 7}})
        assert result.rc != 0
        detected = _seconds(r"qwen3-vllm\.service is not healthy: port 8000 is held by python3 \(pid \d+, unit "
                            r"qwen3-test-decoy\.service\).*? after ([0-9.]+) s", result.stdout)
        record("decoy on the engine port detected after (s)", detected)
        assert detected <= 3, detected  # two polls, one second apart
        message = "\n".join(next(m for m in hc.failure_messages(result.stdout) if any("ROLLBACK" in x for x in m)))
        assert "ROLLBACK FAILED for qwen3-vllm.service" in message and "qwen3-test-decoy.service" in message
        assert "is left stopped (still enabled)" in message
        assert hc.sh(host, "systemctl is-active qwen3-vllm").stdout.strip() in ("inactive", "failed")
        assert exec_start(host) == good  # the known good files are back
    finally:
        hc.sh(host, "systemctl stop qwen3-test-decoy; systemctl reset-failed qwen3-test-decoy qwen3-vllm; "
                    "systemctl start qwen3-vllm")
    hc.wait_http(host, "http://127.0.0.1:8000/health", timeout=240)


def test_a_release_that_fails_verification_is_rolled_back_and_users_survive(site, run_playbook):
    host, inventory = site
    good = exec_start(host)
    token = _signin(host, DEMO_VARS["open_webui_admin_password"])
    chat = hc.sh(host, "curl -s -H 'Content-Type: application/json' -H 'Authorization: Bearer " + token + "' "
                       "-d '{\"chat\": {\"title\": \"kept across rollbacks\"}}' http://127.0.0.1:8080/api/v1/chats/new").stdout
    chat_id = json.loads(chat)["id"]
    # As if an older Open WebUI had migrated this data: this run is an upgrade, so the database is copied first.
    # The chunk size changes Open WebUI's environment, so Open WebUI has a release pending verification too (a real
    # upgrade changes its unit); without one there is nothing of Open WebUI to roll back.
    hc.sh(host, "echo 0.12.3 > /var/lib/qwen3-deploy/open-webui/.qwen3-deploy-version")
    result = run_playbook("site.yml", inventory, extra_vars={
        **FAST_VERIFY, "vllm_service_extra_args": {"max-logprobs": 5}, "open_webui_stream_chunk_size": 2,
        "verify_thresholds": {"ttft_p95_ms": 0.001}})
    assert result.rc != 0
    assert "VERIFICATION FAILED" in result.stdout and "ROLLED BACK qwen3-vllm.service" in result.stdout
    assert "ROLLED BACK qwen3-open-webui.service" in result.stdout
    assert "ttft_p95_ms" in result.stdout
    backups = hc.sh(host, "ls /var/lib/qwen3-deploy/open-webui/backups/").stdout.split()
    assert any(name.startswith("webui-0.12.3-") for name in backups), backups
    assert "--max-logprobs" not in exec_start(host) and exec_start(host) == good
    hc.wait_http(host, "http://127.0.0.1:8000/health", timeout=120)
    token = _signin(host, DEMO_VARS["open_webui_admin_password"])
    kept = hc.sh(host, f"curl -s -H 'Authorization: Bearer {token}' http://127.0.0.1:8080/api/v1/chats/{chat_id}").stdout
    assert "kept across rollbacks" in kept


def _signin(host, password: str) -> str:
    body = json.dumps({"email": ADMIN_EMAIL, "password": password})
    out = hc.sh(host, f"curl -s -H 'Content-Type: application/json' -d '{body}' http://127.0.0.1:8080/api/v1/auths/signin").stdout
    return json.loads(out).get("token", "") if out.startswith("{") else ""


# --- Open WebUI: one setting, one home; rotation ---------------------------------------------------------------

def tokens_per_event(results: dict, target: str) -> int:
    """p50 tokens per event, rounded as verification rounds it (a delta is not always one token)."""
    return round_half_up(results["summary"]["targets"][target]["stats"]["tokens_per_event"]["p50"])


def test_chunk_size_and_a_rotated_admin_password_reach_the_browser_path(site, run_playbook):
    """Inventory chunk 8 -> the browser path gets 8 tokens an event and verification expects exactly 8 (thresholds
    on); a new vault password is applied to the existing admin. Then back to 1 and the old password."""
    host, inventory = site
    rotated = "rotated-admin-password-2"
    eight = run_playbook("site.yml", inventory, extra_vars={
        **FAST_VERIFY, "open_webui_stream_chunk_size": 8, "open_webui_admin_password": rotated})
    assert eight.rc == 0, hc.ansible_messages(eight.stdout)[-5000:]
    results = latest_results()
    assert results["thresholds"]["browser_tokens_per_event"] == 8
    low, high = chunk_band(8)
    assert low <= tokens_per_event(results, "webui-socket") <= high and low <= tokens_per_event(results, "browser") <= high
    assert tokens_per_event(results, "webui") == 1  # Open WebUI batches only the browser path (FACTS 6)
    assert _signin(host, rotated) and not _signin(host, DEMO_VARS["open_webui_admin_password"])
    now = processes_now(host, [rotated, DEMO_VARS["open_webui_admin_password"]])
    assert now == [], f"an admin password in a process after the rotation: {now}"

    back = run_playbook("site.yml", inventory, extra_vars=FAST_VERIFY)
    assert back.rc == 0, hc.ansible_messages(back.stdout)[-5000:]
    assert tokens_per_event(latest_results(), "webui-socket") == 1
    assert _signin(host, DEMO_VARS["open_webui_admin_password"])


# --- Ollama (STAND-IN binary) and back ---------------------------------------------------------------------------

def test_ollama_does_not_think_for_clients_that_leave_think_out_and_switching_back_keeps_everything(
        site, run_playbook, standin_archive):
    host, inventory = site
    weights = "/var/lib/qwen3-deploy/models/tiny-qwen3/config.json"
    to_ollama = run_playbook("site.yml", inventory, extra_vars={**FAST_VERIFY, "llm_profile": "ollama-demo", **standin_archive})
    assert to_ollama.rc == 0, hc.ansible_messages(to_ollama.stdout)[-5000:]
    states = hc.sh(host, "systemctl is-active qwen3-vllm ollama; systemctl is-enabled qwen3-vllm").stdout.split()
    assert states == ["inactive", "active", "disabled"], states
    results = latest_results()
    for target in ("ollama", "webui", "webui-socket"):  # requests without `think`, as clients send them
        assert results["summary"]["targets"][target]["thinking_leaks"] == 0, target

    def run_on_host(command: str) -> subprocess.CompletedProcess:
        return hc.sh(host, command, timeout=300)

    found = ollama_thinking.check_no_thinking(run_on_host, "http://127.0.0.1:11434", "qwen3-demo-nothink:latest")
    assert found["ok"], found["problems"]
    refused = ollama_thinking.check_think_rejected(run_on_host, "http://127.0.0.1:11434", "qwen3-demo-nothink:latest")
    assert refused["ok"], refused  # positive control: asking for thinking is refused, so the check can fail
    assert hc.sh(host, f"test -f {weights}").returncode == 0, "weights were removed by the switch"
    assert _signin(host, DEMO_VARS["open_webui_admin_password"]), "the WebUI admin did not survive the switch"

    back = run_playbook("site.yml", inventory, extra_vars={**FAST_VERIFY, **standin_archive})
    assert back.rc == 0, hc.ansible_messages(back.stdout)[-5000:]
    states = hc.sh(host, "systemctl is-active qwen3-vllm ollama; systemctl is-enabled ollama").stdout.split()
    assert states == ["active", "inactive", "disabled"], states


# --- the host from outside -------------------------------------------------------------------------------------

def test_host_state_suite(site):
    _, inventory = site
    env = {"PATH": f"{Path(tool('pytest')).parent}:/usr/bin:/bin"}
    proc = subprocess.run([tool("pytest"), "-q", "-p", "no:cacheprovider", "tests/testinfra",
                           "--hosts=ansible://llm_servers", f"--ansible-inventory={inventory / 'hosts.yml'}"],
                          cwd=REPO, capture_output=True, text=True, env=env, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout


def test_host_keys_are_checked_outside_the_demo_inventory(site, tmp_path, run_playbook):
    """A production-style inventory (no StrictHostKeyChecking override) refuses a host key it does not know."""
    host, inventory = site
    port = host.ssh_port
    (tmp_path / "hosts.yml").write_text(
        "all:\n  hosts:\n    prod-like:\n      ansible_host: 127.0.0.1\n"
        f"      ansible_port: {port}\n      ansible_user: root\n"
        f"      ansible_ssh_private_key_file: {REPO / '.testhosts' / 'ssh' / 'id_ed25519'}\n")
    known = tmp_path / "known_hosts"
    known.write_text("")
    result = subprocess.run([tool("ansible"), "-i", str(tmp_path / "hosts.yml"), "prod-like",
                             "-m", "ansible.builtin.ping"], cwd=REPO, capture_output=True, text=True, timeout=120,
                            env={"PATH": "/usr/bin:/bin", "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
                                 "ANSIBLE_SSH_ARGS": f"-o ControlMaster=no -o UserKnownHostsFile={known}"}, check=False)
    assert result.returncode != 0
    assert "Host key verification failed" in result.stdout + result.stderr
    demo = run_playbook("playbooks/preflight.yml", inventory)  # the demo inventory turns checking off for its host
    assert demo.rc == 0, hc.ansible_messages(demo.stdout)[-3000:]
