"""The in-page recorder (module_utils/browser_page_js.py) and the probe's request loop in real headless Chromium,
on a stand-in page and server (tests/support/standin_page.py, a test double of the Open WebUI page's DOM and its
Socket.IO traffic on 127.0.0.1; no Open WebUI). The real page is measured by the e2e test and scripts/bench-browser.

Proved: Enter -> POST -> first socket text -> first painted frame are timed in order; the fade-in (text present but
transparent) counts as painted only once half opaque; paint updates and characters per update are counted; the
done marker ends the watch; a reasoning block is seen."""

from __future__ import annotations

import os

import pytest
from ansible_collections.qwen3.deploy.plugins.module_utils import browser_page_js
from ansible_collections.qwen3.deploy.plugins.module_utils import browser_probe as bp
from ansible_collections.qwen3.deploy.plugins.module_utils import browser_selectors as sel
from support.standin_page import StandinServer

CHROMIUM = bp.DEFAULT_CHROMIUM


@pytest.fixture(scope="module")
def page():
    playwright = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} missing: scripts/bootstrap installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} missing (scripts/bootstrap installs Debian's chromium)")
    cfg = bp.ProbeConfig(url="", email="x", password="y")
    with StandinServer() as srv, playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=bp.launch_args(cfg))
        context = browser.new_context(base_url=srv.url)
        context.add_init_script(browser_page_js.script())
        pg = context.new_page()
        pg.goto("/")
        sel.check(pg, sel.PAGE_SELECTORS, 5000)
        yield pg
        browser.close()


def measure(page, mode: str) -> dict:
    page.evaluate("(m) => { document.body.dataset.mode = m; }", mode)
    cfg = bp.ProbeConfig(url="http://app.test", email="x", password="y", prompt="hi", timeout_s=20,
                         new_chat_per_request=False)
    return bp.one_request(page, cfg, 0, fresh=False)


def test_an_answer_is_timed_phase_by_phase(page):
    r = measure(page, "answer")
    assert r["ok"], r
    assert r["enter_to_post_ms"] >= 30  # the stand-in page's own work before its POST
    assert r["enter_to_post_ms"] <= r["ttfb_ms"] <= r["ttfc_ms"]  # POST sent, answered, first text on the socket
    assert r["ttfc_ms"] < r["first_text_ms"] <= r["ttft_ms"]
    assert r["ttft_ms"] - r["first_text_ms"] >= 16  # transparent text in the first frame: painted once half opaque
    assert r["enter_to_post_ms"] + r["post_to_first_delta_ms"] + r["delta_to_paint_ms"] == pytest.approx(r["ttft_ms"])
    assert r["events"] == 6 and r["paint_updates"] >= 1 and r["chars_per_update"] > 0
    assert r["done"] and r["total_ms"] >= r["ttft_ms"]
    assert not r["thinking_leak"] and r["text_has_lt"] is False


def test_a_reasoning_block_is_seen(page):
    r = measure(page, "thinking")
    assert r["thinking_leak"] and r["thinking_block"] == "Thinking..."


class FakePage:
    """Test double of a Playwright page: event handlers, and a wait that advances a fake clock."""

    def __init__(self, clock: list[float], during_wait=None) -> None:
        self.handlers: dict = {}
        self.clock = clock
        self.during_wait = during_wait or (lambda now: None)

    def on(self, event, handler) -> None:
        self.handlers[event] = handler

    def wait_for_timeout(self, ms) -> None:
        self.clock[0] += ms / 1000
        self.during_wait(self.clock[0])


class FakeRequest:
    def __init__(self, url: str, resource_type: str = "fetch") -> None:
        self.url, self.resource_type = url, resource_type


def test_enter_waits_until_the_pages_own_requests_are_done_and_quiet():
    clock = [0.0]
    save = FakeRequest("https://h/api/v1/chats/1")
    page = FakePage(clock, lambda now: page.handlers["requestfinished"](save) if 2.0 <= now < 2.05 else None)
    traffic = bp.PageTraffic(page, clock=lambda: clock[0])
    page.handlers["request"](FakeRequest("https://h/ws/socket.io/?EIO=4&transport=websocket", "websocket"))
    page.handlers["request"](save)
    assert traffic.wait_quiet(page, quiet_s=1.0, timeout_s=10)
    assert 3.0 <= clock[0] < 3.2  # finished at 2 s, then 1 s without any request; the socket never counts
    stuck = bp.PageTraffic(FakePage(clock), clock=lambda: clock[0])
    stuck._start(FakeRequest("https://h/api/v1/chats/"))
    assert stuck.wait_quiet(FakePage(clock), quiet_s=1.0, timeout_s=2) is False  # bounded


class FakeResponse:
    def __init__(self, request: FakeRequest) -> None:
        self.request = request


def test_a_request_is_done_at_its_response_even_without_requestfinished():
    """Chromium gave Open WebUI's timezone POST a response but never 'requestfinished' (seen in the e2e run): each
    Enter then waited the whole idle timeout (120 s) for quiet."""
    clock = [0.0]
    timezone = FakeRequest("https://h/api/v1/auths/update/timezone")
    page = FakePage(clock, lambda now: page.handlers["response"](FakeResponse(timezone)) if 0.5 <= now < 0.55 else None)
    traffic = bp.PageTraffic(page, clock=lambda: clock[0])
    page.handlers["request"](timezone)
    assert traffic.wait_quiet(page, quiet_s=1.0, timeout_s=10)
    assert clock[0] < 1.7
    page.handlers["requestfinished"](timezone)  # a late finish after the response changes nothing
    assert not traffic.in_flight


def test_an_unreachable_engine_ends_the_idle_wait_in_seconds(monkeypatch):
    """A stopped engine made every browser request wait the whole idle timeout (120 s each; 652 s for one
    verification in the e2e test). Test doubles: the metrics reader and a fake clock."""
    clock = [0.0]
    monkeypatch.setattr(bp, "engine_counters", lambda url: None)
    idle = bp.wait_engine_idle("http://127.0.0.1:9/metrics", 120, clock=lambda: clock[0],
                               sleep=lambda s: clock.__setitem__(0, clock[0] + s))
    assert idle is False and clock[0] < 2.5
    answers = iter([None, {"busy": 1}, None, {"busy": 0}])
    monkeypatch.setattr(bp, "engine_counters", lambda url: next(answers))
    assert bp.wait_engine_idle("http://127.0.0.1:9/metrics", 120, clock=lambda: clock[0],
                               sleep=lambda s: clock.__setitem__(0, clock[0] + s)) is True
