"""Drive the real Open WebUI page in headless Chromium (Playwright) as a person does, and time what is painted.

Runs on the controller (action qwen3.deploy.browser_measure, scripts/bench-browser, tests/support/browser_checks.py);
nothing browser-related goes to the served hosts. One browser, one page: sign in through the form, open
``/?model=<id>``, then for every request: a new chat with the keyboard shortcut, wait until the engine is idle,
type the prompt into the chat input, wait until the page has had no request of its own in flight for a second and
an idle period, press Enter, wait until the page marks the answer done. The in-page recorder (browser_page_js)
times it; browser_stats turns that into numbers. Between requests the engine must be idle (vLLM's own gauges),
so one answer never waits behind the last. Every wait is bounded.
"""

from __future__ import annotations

import re
import time
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import quote

from ansible_collections.qwen3.deploy.plugins.module_utils import browser_page_js as js
from ansible_collections.qwen3.deploy.plugins.module_utils import browser_selectors as sel
from ansible_collections.qwen3.deploy.plugins.module_utils import browser_stats

DEFAULT_CHROMIUM = "/usr/bin/chromium"
QUIET_S = 1.0  # no page request in flight for this long before Enter
_METRIC = re.compile(r"^(vllm:[a-z_]+)(?:\{[^}]*\})?\s+([0-9.eE+-]+|NaN)\s*$")


@dataclass
class ProbeConfig:
    url: str  # how this browser reaches Open WebUI (or the proxy in front of it), e.g. through an SSH tunnel
    email: str
    password: str = field(repr=False)
    model: str = ""
    prompt: str = "Count from one to forty in English words, separated by spaces."
    requests: int = 5
    warmup: int = 1
    timeout_s: float = 120.0  # one request, Enter to done
    time_limit_s: float = 600.0  # the whole run
    metrics_url: str | None = None  # the engine's Prometheus endpoint (vLLM /metrics), for idle waits and TTFT
    idle_timeout_s: float = 120.0
    chromium: str = DEFAULT_CHROMIUM
    spki_pins: list[str] = field(default_factory=list)  # accept only these certificate keys (base64 SHA-256)
    name: str = "browser"
    shown_url: str = ""  # the URL as reports should name it (the host's, not the tunnel's)
    trace: bool = False
    new_chat_per_request: bool = True


def engine_counters(metrics_url: str | None, timeout_s: float = 5.0) -> dict | None:
    """vLLM's request gauges and TTFT/token counters, summed over label sets; None when unavailable."""
    if not metrics_url:
        return None
    try:
        with urllib.request.urlopen(metrics_url, timeout=timeout_s) as resp:  # noqa: S310 - loopback/tunnel URL
            text = resp.read().decode("utf-8", "replace")
    except OSError:
        return None
    values: dict[str, float] = {}
    for line in text.splitlines():
        m = _METRIC.match(line)
        if m and m.group(2) != "NaN":
            values[m.group(1)] = values.get(m.group(1), 0.0) + float(m.group(2))
    return {
        "busy": values.get("vllm:num_requests_running", 0.0) + values.get("vllm:num_requests_waiting", 0.0),
        "ttft_sum": values.get("vllm:time_to_first_token_seconds_sum", 0.0),
        "ttft_count": values.get("vllm:time_to_first_token_seconds_count", 0.0),
        "gen": values.get("vllm:generation_tokens_total", 0.0),
        "prompt": values.get("vllm:prompt_tokens_total", 0.0),
    }


def engine_delta(before: dict | None, after: dict | None) -> dict | None:
    if not before or not after:
        return None
    n = round(after["ttft_count"] - before["ttft_count"])
    return {"requests": n, "ttft_ms": round((after["ttft_sum"] - before["ttft_sum"]) * 1000.0 / n, 3) if n else None,
            "output_tokens": round(after["gen"] - before["gen"]),
            "prompt_tokens": round(after["prompt"] - before["prompt"])}


def wait_engine_idle(metrics_url: str | None, timeout_s: float, clock=time.monotonic, sleep=time.sleep,
                     unreachable_s: float = 2.0) -> bool:
    """Poll the engine's running + waiting gauges until both are 0 (bounded); True when idle was seen. An engine
    whose metrics stay unreachable for unreachable_s ends the wait at once: a down engine is reported by the
    engine target, and waiting the whole timeout before every browser request only delays that report."""
    if not metrics_url:
        return True
    end = clock() + timeout_s
    last_answer = clock()
    while clock() < end:
        counters = engine_counters(metrics_url)
        if counters is not None:
            last_answer = clock()
            if counters["busy"] == 0:
                return True
        elif clock() - last_answer >= unreachable_s:
            return False
        sleep(0.1)
    return False


def spki_pin(pem: bytes) -> str:
    """Base64 SHA-256 of a PEM certificate's public key, as Chromium's --ignore-certificate-errors-spki-list takes it:
    the browser then accepts exactly that key (the proxy's certificate, reached through a tunnel as 127.0.0.1)."""
    import base64  # noqa: PLC0415
    import hashlib  # noqa: PLC0415

    from cryptography import x509  # noqa: PLC0415 - ansible-core's own dependency
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    key = x509.load_pem_x509_certificate(pem).public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


class PageTraffic:
    """The page's own HTTP requests in flight (Socket.IO excluded: its transport stays open). After an answer the
    page saves the chat and refreshes the chat list; the server works on those, so the next Enter waits for them.
    A request counts as done at its response: the server's work is over by then, and Chromium reports no
    'requestfinished' for some fetches (Open WebUI 0.12.4's POST /api/v1/auths/update/timezone, answered 200, stayed
    "in flight" for minutes here)."""

    def __init__(self, page, clock=time.monotonic) -> None:
        self.in_flight: set = set()
        self.last_change = clock()
        self._clock = clock
        page.on("request", self._start)
        page.on("response", lambda response: self._end(response.request))
        page.on("requestfinished", self._end)
        page.on("requestfailed", self._end)

    def _counted(self, request) -> bool:
        return "/socket.io" not in request.url and request.resource_type not in ("websocket", "eventsource")

    def _start(self, request) -> None:
        if self._counted(request):
            self.in_flight.add(request)
            self.last_change = self._clock()

    def _end(self, request) -> None:
        if request in self.in_flight:
            self.in_flight.discard(request)
            self.last_change = self._clock()

    def wait_quiet(self, page, quiet_s: float, timeout_s: float) -> bool:
        """Until no request of the page has been in flight for quiet_s (bounded); True when that was seen."""
        end = self._clock() + timeout_s
        while self._clock() < end:
            if not self.in_flight and self._clock() - self.last_change >= quiet_s:
                return True
            page.wait_for_timeout(50)  # lets Playwright deliver the page's request events
        return False


def launch_args(cfg: ProbeConfig) -> list[str]:
    args = ["--no-sandbox", "--disable-dev-shm-usage"]
    if cfg.spki_pins:
        args.append("--ignore-certificate-errors-spki-list=" + ",".join(cfg.spki_pins))
    return args


def sign_in(page, cfg: ProbeConfig) -> None:
    page.goto("/auth", wait_until="domcontentloaded")
    fields = {"e-mail field": sel.EMAIL, "password field": sel.PASSWORD_FIELD, "sign-in button": sel.SIGN_IN}
    sel.check(page, fields, cfg.timeout_s * 1000)
    page.fill(sel.EMAIL, cfg.email)
    page.fill(sel.PASSWORD_FIELD, cfg.password)
    page.click(sel.SIGN_IN)
    page.wait_for_function("() => !!localStorage.token", timeout=cfg.timeout_s * 1000)


def open_chat(page, cfg: ProbeConfig) -> None:
    page.goto(f"/?model={quote(cfg.model)}", wait_until="domcontentloaded")
    sel.check(page, sel.PAGE_SELECTORS, cfg.timeout_s * 1000)
    page.evaluate(js.IDLE, 2000)
    dismiss = page.locator(sel.CHANGELOG_DISMISS)
    if dismiss.count() > 0 and dismiss.first.is_visible():
        dismiss.first.click()  # as a user does; Open WebUI then records the version in the user's settings
        dismiss.first.wait_for(state="detached", timeout=cfg.timeout_s * 1000)


def new_chat(page, cfg: ProbeConfig) -> None:
    """A new chat as a user starts one (the keyboard shortcut); the page keeps the selected model."""
    page.keyboard.press(sel.NEW_CHAT_KEYS)
    page.wait_for_function("(s) => !document.querySelector(s)", arg=sel.MESSAGE.replace("{id}", ""),
                           timeout=cfg.timeout_s * 1000)
    sel.check(page, {"chat input": sel.CHAT_INPUT}, cfg.timeout_s * 1000)


def one_request(page, cfg: ProbeConfig, index: int, fresh: bool, traffic: PageTraffic | None = None) -> dict:
    """New chat, idle engine and page, type, Enter, wait for done; the request's numbers."""
    limit_ms = cfg.timeout_s * 1000
    if fresh and cfg.new_chat_per_request:
        new_chat(page, cfg)
    if not wait_engine_idle(cfg.metrics_url, cfg.idle_timeout_s):
        busy = f"the engine was not idle within {cfg.idle_timeout_s} s, or its metrics were unreachable"
        return browser_stats.request_result(index, None, None, busy)
    page.click(sel.CHAT_INPUT)
    page.keyboard.type(cfg.prompt)
    page.wait_for_selector(sel.SEND_BUTTON, state="visible", timeout=limit_ms)
    if traffic is not None:  # a person reads the last answer before typing the next: the page has settled by then
        traffic.wait_quiet(page, QUIET_S, cfg.idle_timeout_s)
    page.evaluate(js.IDLE, 1000)
    before = engine_counters(cfg.metrics_url)
    page.evaluate(js.ARM)
    page.keyboard.press("Enter")
    error = None
    try:
        page.wait_for_function(js.DONE, timeout=limit_ms, polling=100)
    except Exception as exc:  # playwright TimeoutError
        error = f"no answer marked done within {cfg.timeout_s} s ({type(exc).__name__})"
    watch = page.evaluate(js.COLLECT)
    if watch and watch.get("message_id") and error is None:
        try:
            sel.check(page, sel.MESSAGE_SELECTORS, limit_ms, watch["message_id"])
        except sel.SelectorError as exc:
            error = str(exc)
    wait_engine_idle(cfg.metrics_url, cfg.idle_timeout_s)
    result = browser_stats.request_result(index, watch, engine_delta(before, engine_counters(cfg.metrics_url)), error)
    if cfg.trace:
        result["trace"] = watch
    return result


def run(cfg: ProbeConfig, clock=time.monotonic) -> dict:
    """Sign in, then warm-up and measured requests; the run in the host tool's run shape (kind ``browser``)."""
    out: dict = {"target": cfg.name, "kind": browser_stats.KIND, "title": browser_stats.TITLE,
                 "url": cfg.shown_url or cfg.url, "model": cfg.model, "requested": cfg.requests,
                 "warmup": cfg.warmup, "results": [], "warmup_results": [], "skipped": 0, "unreachable": None,
                 "prompt": cfg.prompt, "browser": None}
    deadline = clock() + cfg.time_limit_s
    try:
        from playwright.sync_api import sync_playwright  # noqa: PLC0415 - controller-only, optional dependency
    except ImportError:
        out["unreachable"] = "playwright is not installed on the controller (pip install -r requirements.txt)"
        out["skipped"] = cfg.requests
        return out
    with sync_playwright() as pw:
        try:
            browser = pw.chromium.launch(executable_path=cfg.chromium, headless=True, args=launch_args(cfg))
        except Exception as exc:
            out["unreachable"] = f"cannot start Chromium ({cfg.chromium}): {str(exc).splitlines()[0][:200]}"
            out["skipped"] = cfg.requests
            return out
        out["browser"] = f"Chromium {browser.version}"
        try:
            context = browser.new_context(base_url=cfg.url, locale="en-US", viewport={"width": 1280, "height": 900})
            context.add_init_script(js.script(cfg.trace))
            page = context.new_page()
            traffic = PageTraffic(page)
            page.set_default_timeout(cfg.timeout_s * 1000)
            try:
                sign_in(page, cfg)
                open_chat(page, cfg)
            except sel.SelectorError as exc:
                out["unreachable"] = str(exc)
            except Exception as exc:
                first = str(exc).splitlines()[0][:300] if str(exc) else ""
                out["unreachable"] = f"Open WebUI page at {out['url']}: {type(exc).__name__}: {first}"
            if out["unreachable"]:
                out["skipped"] = cfg.requests
                return out
            total = cfg.warmup + cfg.requests
            for i in range(total):
                if clock() >= deadline:
                    out["skipped"] = total - i if i >= cfg.warmup else cfg.requests
                    break
                index = i - cfg.warmup
                try:
                    result = one_request(page, cfg, index, fresh=i > 0, traffic=traffic)
                except Exception as exc:
                    result = browser_stats.request_result(index, None, None, f"{type(exc).__name__}: {str(exc)[:300]}")
                out["warmup_results" if index < 0 else "results"].append(result)
        finally:
            browser.close()
    return out
