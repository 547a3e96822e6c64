"""The browser probe's selectors (module_utils/browser_selectors.py) are written for one Open WebUI version: moving
the pinned version without revisiting them fails here, and a selector the live page lacks fails loudly by name."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from ansible_collections.qwen3.deploy.plugins.module_utils import browser_page_js
from ansible_collections.qwen3.deploy.plugins.module_utils import browser_selectors as sel

REPO = Path(__file__).resolve().parents[2]


def test_selectors_are_for_the_pinned_open_webui_version():
    pinned = yaml.safe_load((REPO / "roles" / "open_webui" / "defaults" / "main.yml").read_text())["open_webui_version"]
    assert pinned == sel.OPEN_WEBUI_VERSION, (
        f"open_webui_version is {pinned} but module_utils/browser_selectors.py was written for "
        f"{sel.OPEN_WEBUI_VERSION}: check every selector against the new page (ids, reasoning label, done marker), "
        "run tests/unit/test_browser_recorder.py and the e2e browser check, then move OPEN_WEBUI_VERSION")


class FakePage:
    def __init__(self, present: set[str]):
        self.present = present
        self.asked: list[str] = []

    def wait_for_selector(self, css, state, timeout):
        self.asked.append(css)
        if css not in self.present:
            raise TimeoutError(f"Timeout {timeout}ms exceeded waiting for {css}")


def test_a_missing_selector_fails_naming_it_and_the_version():
    page = FakePage({sel.CHAT_INPUT})
    with pytest.raises(sel.SelectorError) as info:
        sel.check(page, sel.PAGE_SELECTORS, 100)
    text = str(info.value)
    assert "model selector" in text and sel.MODEL_BUTTON in text and sel.OPEN_WEBUI_VERSION in text


def test_message_selectors_are_scoped_to_one_message():
    page = FakePage({"#message-abc", "#message-abc #response-content-container"})
    sel.check(page, sel.MESSAGE_SELECTORS, 100, "abc")
    assert page.asked == ["#message-abc", "#message-abc #response-content-container"]


def test_the_recorder_uses_the_selectors_from_this_module_only():
    script = browser_page_js.script()
    for value in (sel.CHAT_INPUT, sel.FADE_SPAN, sel.COMPLETION_PATH, "#response-content-container"):
        assert value in script
    assert "__SELECTORS__" not in script
    assert "console." not in script  # a console listener would add CDP traffic per event
