"""What a person waits for in a real browser: first painted answer text after Enter, stock Open WebUI vs ours.

One run on one deployed demo host (scripts/testhosts + site.yml), driven from this machine through an SSH tunnel:

* ``ours``   the Open WebUI the open_webui role deployed (through the webui_proxy when ``--via-proxy``);
* ``stock``  a second Open WebUI 0.12.4 from the same venv on the same host (port ``--stock-port``, empty data dir,
             started as a transient unit and removed afterwards) with Open WebUI's defaults. Changed from the
             defaults, and only these: the connection to our vLLM (OPENAI_API_BASE_URLS/KEYS, Ollama off), the
             admin account (WEBUI_ADMIN_*), the settings any instance needs to start without internet here
             (OFFLINE_MODE, HF_HUB_OFFLINE, RAG_EMBEDDING_ENGINE=openai), and built-in tools off
             (DEFAULT_MODEL_METADATA) because stock sends ``tool_choice: auto`` on every chat, which our vLLM
             refuses (HTTP 400): stock fails every chat without that one change;
* ``--variant NAME=JSON``  more instances: ours' environment with these settings changed (one change each).

Requests alternate between the instances (ours, stock, variants, in a rotating order), each in a new chat in one
Chromium page per instance; before every request the engine must be idle (vLLM's gauges), so no answer waits
behind another. Engine TTFT beside them: vLLM's own TTFT histogram for each answer, and direct streamed requests to
vLLM from here through the same tunnel. Then the Socket.IO probe (host tool, webui-socket) runs on the host against
ours, to compare with ours' browser first paint. Prints JSON; exit 0 when every instance gave its requests.

On this machine the browser and a test host share the cores, and the host's container competes as one cgroup, so a
streaming answer can starve the browser and the tunnel (the engine's Nice counts only inside the container).
``--server-cpus`` with ``--client-cpus`` gives each its own cores, as on two machines; ``--wire-clock`` splits
each of ours' requests on the wire (support.bench.wireclock). Both need the host to be a local test container.
``--cpu-trace DIR`` has Chromium trace ours' requests and splits the page's main thread per phase: idle, Open
WebUI's JavaScript, rendering, Chromium's own work, GC, our measurement (support.bench.cputrace).

  scripts/bench-browser --inventory .testhosts/inv-brw --host brw-1 -n 20 --via-proxy
  scripts/bench-browser --inventory .testhosts/inv-brw --host brw-1 -n 12 --no-stock \
      --server-cpus 1 --client-cpus 0 --wire-clock
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

import requests
from ansible_collections.qwen3.deploy.plugins.module_utils import browser_probe as bp
from ansible_collections.qwen3.deploy.plugins.module_utils import browser_stats as bs
from ansible_collections.qwen3.deploy.plugins.module_utils import browser_tunnel as bt

from support.bench import cputrace, wireclock
from support.bench.netclock import NetClock

ADMIN_FILE = "/etc/qwen3-deploy/open-webui-admin.json"
ENV_FILE = "/etc/qwen3-deploy/open-webui.env"
VENV = "/opt/qwen3-deploy/open-webui/0.12.4"
WEBUI_PORT = 8080  # ours' Open WebUI on the host's loopback (open_webui_port's default)
ENGINE_PORT = 8000  # vLLM on the host's loopback (the demo profile's port)
WEBUI_USER = "qwen3-webui"
STOCK_ENV_KEYS = ("OPENAI_API_BASE_URLS", "OPENAI_API_KEYS", "WEBUI_ADMIN_EMAIL", "WEBUI_ADMIN_PASSWORD",
                  "WEBUI_ADMIN_NAME")
STOCK_FIXED = {"ENABLE_OLLAMA_API": "false", "OFFLINE_MODE": "true", "HF_HUB_OFFLINE": "1",
               "RAG_EMBEDDING_ENGINE": "openai",
               "DEFAULT_MODEL_METADATA": '{"capabilities": {"builtin_tools": false}}'}
PHASE_KEYS = [k for k, _ in bs.PHASES]
WIRE_KEYS = ("post_to_server_ms", "server_before_engine_ms", "engine_first_token_ms", "relay_ms",
             "server_post_to_first_frame_ms", "tunnel_back_ms", "wire_post_to_first_frame_ms", "browser_side_ms")


def host_settings(inventory: str, host: str) -> bt.SshTarget:
    out = subprocess.run([sys.executable.replace("python", "ansible-inventory"), "-i", inventory, "--host", host],
                         capture_output=True, text=True, check=True).stdout
    hv = json.loads(out)
    return bt.SshTarget(host=hv.get("ansible_host", host), port=hv.get("ansible_port"), user=hv.get("ansible_user"),
                        private_key_file=hv.get("ansible_ssh_private_key_file"),
                        ssh_args=bt.split_args(hv.get("ansible_ssh_common_args"), hv.get("ansible_ssh_extra_args")))


def ssh(target: bt.SshTarget, command: str, stdin: str | None = None, timeout: float = 120) -> str:
    argv = target.argv([])
    argv.remove("-N")
    res = subprocess.run([*argv, command], input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"on the host: {command[:80]}: {res.stderr.strip()[-400:]}")
    return res.stdout


def parse_env(text: str) -> dict[str, str]:
    env = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = json.loads(value) if value.startswith('"') else value
    return env


def start_instance(target: bt.SshTarget, name: str, port: int, env: dict[str, str]) -> None:
    """A second Open WebUI from the same venv as a transient unit; its env file is 0600 (secrets stay off argv)."""
    data = f"/var/lib/qwen3-deploy/bench-{name}"
    env = {**env, "DATA_DIR": data, "STATIC_DIR": f"{data}/static", "WEBUI_SECRET_KEY": f"bench-{name}-" + "x" * 24}
    body = "".join(f"{k}={json.dumps(str(v))}\n" for k, v in sorted(env.items()))
    unit = f"qwen3-bench-{name}"
    ssh(target, f"systemctl stop {unit} 2>/dev/null; rm -rf {data}; install -d -o {WEBUI_USER} -g {WEBUI_USER} {data}"
                f" && install -m 0600 /dev/stdin /run/{unit}.env", stdin=body)
    ssh(target, " ".join(["systemd-run", f"--unit={unit}", f"--property=EnvironmentFile=/run/{unit}.env",
                          f"--uid={WEBUI_USER}", f"--gid={WEBUI_USER}", f"--working-directory={data}",
                          f"--setenv=HOME={data}", f"{VENV}/bin/open-webui", "serve", "--host", "127.0.0.1",
                          "--port", str(port)]))


def stop_instance(target: bt.SshTarget, name: str) -> None:
    unit = f"qwen3-bench-{name}"
    ssh(target, f"systemctl stop {unit} 2>/dev/null; rm -f /run/{unit}.env; rm -rf /var/lib/qwen3-deploy/bench-{name}")


def wait_health(url: str, timeout_s: float) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            if requests.get(url + "/health", timeout=5, verify=False).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise RuntimeError(f"{url} not healthy within {timeout_s} s")


def direct_ttft(url: str, key: str, model: str, prompt: str) -> float | None:
    """One streamed request straight to vLLM (through the tunnel): ms to the first non-empty content."""
    t0 = time.perf_counter()
    with requests.post(url + "/v1/chat/completions", stream=True, timeout=120,
                       headers={"Authorization": f"Bearer {key}"},
                       json={"model": model, "stream": True, "max_tokens": 16,
                             "messages": [{"role": "user", "content": prompt}]}) as resp:
        for line in resp.iter_lines():
            if line.startswith(b"data: {"):
                delta = json.loads(line[6:])["choices"][0]["delta"] if b'"choices":[{' in line else {}
                if delta.get("content"):
                    return round((time.perf_counter() - t0) * 1000, 3)
    return None


def describe(results: list[dict]) -> dict:
    ok = [r for r in results if r["ok"]]
    def p(key, q):
        return bs.percentile([r[key] for r in ok if r.get(key) is not None], q)
    return {
        "ok": f"{len(ok)}/{len(results)}",
        "first_paint_ms": {"p50": p("ttft_ms", 50), "p95": p("ttft_ms", 95)},
        "first_text_any_opacity_ms": {"p50": p("first_text_ms", 50), "p95": p("first_text_ms", 95)},
        "timeline_p50_ms": {k: p("ttft_ms" if k == "first_paint_ms" else k, 50) for k in PHASE_KEYS},
        # The network stack's clock (support.bench.netclock): POST -> first text frame, and how long that frame
        # then waited for the page's main thread (Open WebUI's front-end code) before the page's code saw it.
        "net_post_to_first_delta_ms_p50": p("net_post_to_first_delta_ms", 50),
        "frame_wait_for_page_ms_p50": p("frame_wait_for_page_ms", 50),
        # --wire-clock (support.bench.wireclock): the same request on the wire, both ends on one kernel clock
        "wire_p50_ms": {k: p(k, 50) for k in WIRE_KEYS if any(r.get(k) is not None for r in ok)},
        # --cpu-trace (support.bench.cputrace): the page's main thread per phase and owner, means of traced requests
        "cpu_mean_ms": cputrace.mean_split([r["cpu"] for r in ok if r.get("cpu")]) or None,
        "engine_ttft_ms_this_answer": {"p50": p("engine_ttft_ms", 50), "p95": p("engine_ttft_ms", 95)},
        "paint_updates_p50": p("paint_updates", 50), "chars_per_update_p50": p("chars_per_update", 50),
        "socket_events_p50": p("events", 50), "full_answer_ms_p50": p("total_ms", 50),
        "output_tokens_min": min((r["output_tokens"] for r in ok if r["output_tokens"]), default=None),
        "engine_requests_per_answer": sorted({r["engine_requests"] for r in results if r["engine_requests"]}),
        "prompt_tokens": sorted({r["engine_prompt_tokens"] for r in results if r["engine_prompt_tokens"]}),
        "thinking_blocks": sum(1 for r in results if r["thinking_leak"]),
        "answers_with_lt": sum(1 for r in results if r["text_has_lt"]),
        "errors": sorted({r["error"] for r in results if r["error"]})[:3],
    }


PROBE_ARGS = "latency measure --model qwen3-demo -w 1 --max-tokens 64"


def probe_summary(out: str) -> dict:
    t = json.loads(out)["summary"]["targets"]["webui-socket"]
    return {"ok": f"{t['ok']}/{t['attempted']}", "ttft_ms": {k: t["stats"]["ttft_ms"][k] for k in ("p50", "p95")}}


def socket_probe(target: bt.SshTarget, n: int, prompt: str) -> dict:
    """The host tool's Socket.IO path against ours, on the host (as verification runs it)."""
    return probe_summary(ssh(target, "/opt/qwen3-deploy/tools/venv/bin/python /opt/qwen3-deploy/tools/qwen3-hosttools.pyz "
                                     f"{PROBE_ARGS} --target webui-socket=http://127.0.0.1:{WEBUI_PORT} "
                                     f"--webui-credentials-file {ADMIN_FILE} -n {n} --prompt {shlex.quote(prompt)}",
                             timeout=900))


def client_socket_probe(url: str, creds: dict, n: int, prompt: str) -> dict:
    """The same Socket.IO probe (this checkout's host tools) from this machine through the tunnel, on the browser's
    cores: the page's request sequence without the page, as a control for what the page itself costs."""
    with tempfile.TemporaryDirectory(prefix="bench-probe-") as tmp:
        cred_file = os.path.join(tmp, "admin.json")
        with os.fdopen(os.open(cred_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as fh:
            json.dump({"email": creds["email"], "password": creds["password"]}, fh)
        tools = os.path.join(os.path.dirname(__file__), "..", "..", "..", "hosttools")
        res = subprocess.run([sys.executable, "-m", "qwen3_hosttools", *PROBE_ARGS.split(),
                              "--target", f"webui-socket={url}", "--webui-credentials-file", cred_file,
                              "-n", str(n), "--prompt", prompt], capture_output=True, text=True, timeout=900,
                             check=False, env={**os.environ, "PYTHONPATH": os.path.abspath(tools)})
    if res.returncode not in (0, 1):  # 1: a threshold missed, the numbers are still there
        raise RuntimeError(f"client probe: {res.stderr.strip()[-300:]}")
    return probe_summary(res.stdout)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inventory", required=True)
    ap.add_argument("--host", required=True)
    ap.add_argument("-n", "--requests", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--prompt", default="Count from one to forty in English words, separated by spaces.")
    ap.add_argument("--model", default="qwen3-demo")
    ap.add_argument("--via-proxy", action="store_true", help="reach ours through the webui_proxy (https :443)")
    ap.add_argument("--stock-port", type=int, default=8091)
    ap.add_argument("--no-stock", action="store_true")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=JSON",
                    help="another instance: ours' environment with these settings changed")
    ap.add_argument("--socket-probe", type=int, default=0, metavar="N", help="Socket.IO probe requests (0: none)")
    ap.add_argument("--client-probe", type=int, default=0, metavar="N",
                    help="the same Socket.IO probe from this machine through the tunnel (on --client-cpus; ours "
                         "direct, not through the proxy): the page's requests without the page (0: none)")
    ap.add_argument("--time-limit", type=float, default=3000)
    ap.add_argument("--client-cpus", default="", metavar="LIST",
                    help="run the browser, the tunnel and this script on these CPUs only (e.g. 0): a person's browser "
                         "runs on their own computer, not on the server's cores")
    ap.add_argument("--server-cpus", default="", metavar="LIST",
                    help="local test host only: confine its container to these CPUs (docker update --cpuset-cpus; "
                         "vLLM and Open WebUI restart) for the run, then give it all CPUs back; with --client-cpus "
                         "on the other CPUs, browser and server stop taking each other's cores, as on two machines")
    ap.add_argument("--wire-clock", action="store_true",
                    help="local test host only: tcpdump on both ends (support.bench.wireclock) and report, per "
                         "request, Open WebUI before the engine call, the engine's first token, the relay, the tunnel")
    ap.add_argument("--cpu-trace", metavar="DIR", default="",
                    help="trace ours' measured requests in Chromium (V8's sampling profiler, rendering steps; "
                         "support.bench.cputrace), keep the traces in DIR and report the page's main thread per phase "
                         "and owner (the tracing itself costs the page time: compare first paint with an untraced run)")
    args = ap.parse_args(argv)
    if args.client_cpus:  # inherited by everything started below: ssh, Playwright's driver, Chromium
        os.sched_setaffinity(0, {int(c) for c in args.client_cpus.split(",")})
    target = host_settings(args.inventory, args.host)
    creds = json.loads(ssh(target, f"cat {ADMIN_FILE}"))
    ours_env = parse_env(ssh(target, f"cat {ENV_FILE}"))
    key = ours_env.get("OPENAI_API_KEYS", "")
    instances: list[tuple[str, str, int]] = [("ours", "https" if args.via_proxy else "http", 443 if args.via_proxy else WEBUI_PORT)]
    launched = []
    pinned = False
    try:
        if args.server_cpus:
            pin_container(target, args.host, args.server_cpus)
            pinned = True
        if not args.no_stock:
            env = {k: ours_env[k] for k in STOCK_ENV_KEYS if k in ours_env} | STOCK_FIXED
            start_instance(target, "stock", args.stock_port, env)
            launched.append("stock")
            instances.append(("stock", "http", args.stock_port))
        for i, spec in enumerate(args.variant):
            name, _, changes = spec.partition("=")
            start_instance(target, name, args.stock_port + 1 + i, ours_env | json.loads(changes))
            launched.append(name)
            instances.append((name, "http", args.stock_port + 1 + i))
        # then ours' Open WebUI directly (the client probe) and vLLM: tun.local[-2], tun.local[-1]
        remotes = [("127.0.0.1", port) for _, _, port in instances] + [("127.0.0.1", WEBUI_PORT),
                                                                        ("127.0.0.1", ENGINE_PORT)]
        with bt.Tunnel(target, remotes) as tun:
            urls = {name: f"{scheme}://127.0.0.1:{tun.local[i]}" for i, (name, scheme, _) in enumerate(instances)}
            engine = f"http://127.0.0.1:{tun.local[-1]}"
            for url in urls.values():
                wait_health(url, 300)
            wire = None
            if args.wire_clock:
                workdir = tempfile.mkdtemp(prefix="bench-wire-")
                wire = wireclock.WireCapture(args.host, webui_port=WEBUI_PORT, engine_port=ENGINE_PORT,
                                             tunnel_port=tun.local[0],
                                             tunnel_tls=args.via_proxy, workdir=workdir)
            report = run_browser(args, urls, engine, creds, key, wire=wire)
            if args.client_probe:
                bp.wait_engine_idle(engine + "/metrics", 120)
                try:
                    report["socket_probe_client"] = client_socket_probe(f"http://127.0.0.1:{tun.local[-2]}", creds,
                                                                        args.client_probe, args.prompt)
                except (RuntimeError, ValueError, KeyError, subprocess.TimeoutExpired) as exc:
                    report["socket_probe_client"] = {"error": str(exc)[-300:], "ttft_ms": {"p50": None}}
        if args.socket_probe:
            try:
                report["socket_probe_ours"] = socket_probe(target, args.socket_probe, args.prompt)
            except (RuntimeError, ValueError, KeyError) as exc:  # the browser numbers still get printed
                report["socket_probe_ours"] = {"error": str(exc)[-300:], "ttft_ms": {"p50": None}}
            paint = report["instances"]["ours"]["first_paint_ms"]["p50"]
            probe = report["socket_probe_ours"]["ttft_ms"]["p50"]
            report["socket_probe_vs_browser_pct"] = round(abs(probe - paint) / paint * 100, 1) if paint and probe else None
        if args.client_probe:
            paint = report["instances"]["ours"]["first_paint_ms"]["p50"]
            probe = report["socket_probe_client"]["ttft_ms"]["p50"]
            report["browser_minus_client_probe_p50_ms"] = round(paint - probe, 1) if paint and probe else None
    finally:
        for name in launched:
            stop_instance(target, name)
        if pinned:
            pin_container(target, args.host, f"0-{os.cpu_count() - 1}")
    print(json.dumps(report, indent=1))
    return 0 if all(v["ok"].split("/")[0] == v["ok"].split("/")[1] for v in report["instances"].values()) else 1


def pin_container(target: bt.SshTarget, container: str, cpus: str) -> None:
    """Confine a local test host's container to ``cpus``, restart the engine and Open WebUI on them, wait."""
    subprocess.run(["docker", "update", "--cpuset-cpus", cpus, container], check=True, capture_output=True)
    ssh(target, "systemctl restart qwen3-vllm.service qwen3-open-webui.service && for i in $(seq 300); do "
                f"curl -sf -o /dev/null http://127.0.0.1:{ENGINE_PORT}/health && curl -sf -o /dev/null "
                f"http://127.0.0.1:{WEBUI_PORT}/health && exit 0; sleep 1; done; exit 1", timeout=330)


def add_wire_clock(wire: wireclock.WireCapture, results: list[dict], warmup: int) -> None:
    """Each of ours' measured requests gets its phases on the wire (requests in the order the page sent them)."""
    rows = wire.timelines()[warmup:]
    for r, row in zip(results, rows, strict=False):
        r.update(row)
        wire_total = row.get("wire_post_to_first_frame_ms")
        # the page's own core: Enter -> POST, Chromium's queueing of the POST and the frame, frame -> paint
        r["browser_side_ms"] = round(r["ttft_ms"] - wire_total, 1) if r["ok"] and wire_total is not None else None


def run_browser(args, urls: dict[str, str], engine: str, creds: dict, key: str, *,
                wire: wireclock.WireCapture | None = None) -> dict:
    if wire is None:
        return measure_browser(args, urls, engine, creds, key)
    wire.start()
    try:
        report = measure_browser(args, urls, engine, creds, key, wire=wire)
    finally:
        wire.stop()
    report["wire_captures"] = [wire.host_pcap, wire.client_pcap]
    return report


def keep_trace(directory: str, index: int, page, browser) -> dict:
    """Mark the recorder's times in the trace, end it, keep it (gzip) and split the page's main thread."""
    marked = page.evaluate(cputrace.MARK_JS)
    data = browser.stop_tracing()
    os.makedirs(directory, exist_ok=True)
    with gzip.open(os.path.join(directory, f"ours-{index:03d}.json.gz"), "wb") as fh:
        fh.write(data)
    return cputrace.phase_split(cputrace.events_of(data)) if marked else {}


def measure_browser(args, urls: dict[str, str], engine: str, creds: dict, key: str, *,
                    wire: wireclock.WireCapture | None = None) -> dict:
    from playwright.sync_api import sync_playwright

    results: dict[str, list[dict]] = {name: [] for name in urls}
    direct: list[float] = []
    deadline = time.monotonic() + args.time_limit
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=bp.DEFAULT_CHROMIUM, headless=True,
                                     args=bp.launch_args(bp.ProbeConfig(url="", email="", password="")))
        pages, cfgs, traffic, clocks = {}, {}, {}, {}
        for name, url in urls.items():
            cfg = bp.ProbeConfig(url=url, email=creds["email"], password=creds["password"], model=args.model,
                                 prompt=args.prompt, timeout_s=120, metrics_url=engine + "/metrics", name=name)
            context = browser.new_context(base_url=url, locale="en-US", viewport={"width": 1280, "height": 900},
                                          ignore_https_errors=url.startswith("https"))
            from ansible_collections.qwen3.deploy.plugins.module_utils import browser_page_js

            context.add_init_script(browser_page_js.script())
            page = context.new_page()
            traffic[name] = bp.PageTraffic(page)
            clocks[name] = NetClock()
            cdp = context.new_cdp_session(page)
            cdp.on("Network.requestWillBeSent", clocks[name].on_request)
            cdp.on("Network.webSocketFrameReceived", clocks[name].on_frame)
            cdp.send("Network.enable")
            page.set_default_timeout(120_000)
            bp.sign_in(page, cfg)
            bp.open_chat(page, cfg)
            pages[name], cfgs[name] = page, cfg
        names = list(urls)
        for i in range(args.warmup + args.requests):
            if time.monotonic() > deadline:
                break
            order = names[i % len(names):] + names[: i % len(names)]
            for name in order:
                for other in names:  # the other instances' pages settle too: they share the host's cores
                    if other != name:
                        traffic[other].wait_quiet(pages[other], bp.QUIET_S, 60)
                clocks[name].reset()
                traced = bool(args.cpu_trace) and name == "ours" and i >= args.warmup
                if traced:
                    browser.start_tracing(page=pages[name], categories=cputrace.CATEGORIES)
                r = bp.one_request(pages[name], cfgs[name], i - args.warmup, fresh=i > 0, traffic=traffic[name])
                if traced:
                    r["cpu"] = keep_trace(args.cpu_trace, i - args.warmup, pages[name], browser)
                r.update(clocks[name].split(r.get("post_to_first_delta_ms")))
                if i >= args.warmup:
                    results[name].append(r)
                print(json.dumps({"round": i, "instance": name, **{k: r[k] for k in (
                    "ok", "ttft_ms", "first_text_ms", "enter_to_post_ms", "post_to_first_delta_ms",
                    "net_post_to_first_delta_ms", "frame_wait_for_page_ms", "engine_ttft_ms",
                    "delta_to_paint_ms", "total_ms", "output_tokens", "engine_requests", "thinking_block")},
                                  "cpu_enter_to_paint": (r.get("cpu") or {}).get("enter_to_paint")}),
                      file=sys.stderr, flush=True)
            bp.wait_engine_idle(engine + "/metrics", 120)
            d = direct_ttft(engine, key, args.model, args.prompt)
            if i >= args.warmup and d is not None:
                direct.append(d)
        browser.close()
    if wire is not None:
        wire.stop()  # the files are complete only once tcpdump has exited
        add_wire_clock(wire, results["ours"], args.warmup)
    out = {"client_cpus": sorted(os.sched_getaffinity(0)), "prompt": args.prompt, "requests": args.requests,
           "engine_direct_ttft_ms": {"p50": bs.percentile(direct, 50), "p95": bs.percentile(direct, 95),
                                     "n": len(direct)},
           "instances": {name: describe(rs) for name, rs in results.items()}}
    e = out["engine_direct_ttft_ms"]["p50"]
    for d in out["instances"].values():
        fp = d["first_paint_ms"]["p50"]
        d["first_paint_minus_engine_direct_p50_ms"] = round(fp - e, 1) if fp is not None and e is not None else None
    return out


if __name__ == "__main__":
    sys.exit(main())
