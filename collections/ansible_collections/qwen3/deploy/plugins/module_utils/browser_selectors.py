"""Where the Open WebUI page keeps what the browser probe reads: every selector in one place, for one version.

The probe (module_utils/browser_probe.py) and its in-page recorder (browser_page_js.py) use nothing else. Read
from the 0.12.4 frontend (its source maps): ids are steady across releases, classes and labels less so.
``check(page)`` looks each selector up on the live page and raises ``SelectorError`` naming the one that is
gone, so a new Open WebUI version fails loudly instead of measuring nothing; tests/unit/test_browser_selectors.py
fails when ``open_webui_version`` moves away from ``OPEN_WEBUI_VERSION`` without this file being revisited.
"""

from __future__ import annotations

OPEN_WEBUI_VERSION = "0.12.4"

# Sign-in form (src/routes/auth/+page.svelte).
EMAIL = "#email"
PASSWORD_FIELD = "#password"  # noqa: S105 - a CSS selector, not a secret
SIGN_IN = "#auth-container button[type=submit]"
# The message box: a TipTap contenteditable div, Enter sends (MessageInput.svelte, RichTextInput.svelte).
CHAT_INPUT = "#chat-input"
SEND_BUTTON = "#send-message-button"
# The model picked for the page (ModelSelector/Selector.svelte): its button shows the model's name.
MODEL_BUTTON = "#model-selector-model-button"
# "What's New" (ChangelogModal.svelte): shown to an admin once per Open WebUI version; a user closes it first.
CHANGELOG_DISMISS = "div[role=dialog][aria-modal=true] button:has-text(\"Okay, Let's Go!\")"
# A new chat from the keyboard, as a user does (routes/(app)/+layout.svelte, Shortcut.NEW_CHAT).
NEW_CHAT_KEYS = "Control+Shift+O"
# One assistant message: its id is the client uuid the page POSTs as ``id`` (ResponseMessage.svelte).
MESSAGE = "#message-{id}"
# The answer body of that message; the id repeats in every message, so it is always scoped.
RESPONSE = "#message-{id} #response-content-container"
# Answer text items inside RESPONSE (ContentRenderer): markdown on, or markdown rendering off.
ANSWER_TEXT = ":scope > div > .markdown-prose, :scope > div > .whitespace-pre-wrap"
# A reasoning block (Collapsible.svelte): a button labelled "Thinking..." / "Thought for N seconds".
THINKING_BUTTON = "button"
THINKING_LABEL = r"^\s*(Thinking|Thought)\b"
# Streamed words fade in (TextToken.svelte, class fade-in-token, 100 ms) unless chatFadeStreamingText is off.
FADE_SPAN = ".fade-in-token"
# Shown only once message.done (ResponseMessage.svelte): the end of the answer as the page sees it.
DONE = "#message-{id} button.copy-response-button"
# What the page posts to start an answer, and where the text then arrives (Socket.IO).
COMPLETION_PATH = "/api/chat/completions"
SOCKET_PATH = "/ws/socket.io"

# Every selector the probe needs on a chat page before it sends (the rest exist only once a message does).
PAGE_SELECTORS = {"chat input": CHAT_INPUT, "model selector": MODEL_BUTTON}
MESSAGE_SELECTORS = {"assistant message": MESSAGE, "answer body": RESPONSE}


class SelectorError(RuntimeError):
    """The page lacks a selector this probe was written for."""


def scoped(selector: str, message_id: str) -> str:
    return selector.replace("{id}", message_id)


def problem(what: str, selector: str) -> str:
    return (f"the Open WebUI page has no {what} ({selector!r}); module_utils/browser_selectors.py was written for "
            f"Open WebUI {OPEN_WEBUI_VERSION}: check the deployed version's page and update the selectors")


def check(page, selectors: dict[str, str], timeout_ms: float, message_id: str = "") -> None:
    """Raise SelectorError unless every selector appears on ``page`` within ``timeout_ms``."""
    for what, selector in selectors.items():
        css = scoped(selector, message_id)
        try:
            page.wait_for_selector(css, state="attached", timeout=timeout_ms)
        except Exception as exc:  # playwright's TimeoutError; the message must name the selector
            raise SelectorError(problem(what, css)) from exc
