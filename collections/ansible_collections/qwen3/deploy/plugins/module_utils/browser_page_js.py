"""The in-page recorder the browser probe adds to every Open WebUI page (Playwright ``add_init_script``).

It patches nothing of Open WebUI: it wraps ``window.fetch`` and ``WebSocket`` to timestamp what the page sends and
receives, and listens for the Enter keydown in the chat input. From that keydown until the answer is done it runs
one ``requestAnimationFrame`` loop; in each frame it posts a message to itself, which the browser handles after
that frame's rendering update (style, layout, paint), and reads there what the frame showed: the length of the
answer text, whether that text is at least half opaque (Open WebUI fades streamed words in over 100 ms), a
reasoning block ("Thinking..." / "Thought for ..."), and the done marker. All times are ``performance.now()``
milliseconds; the Enter time is the keydown's own ``event.timeStamp``. Nothing is logged to the console (a
console listener would add CDP traffic per event). The probe reads ``window.__qwen3`` when the answer is done.
"""

from __future__ import annotations

import json

from ansible_collections.qwen3.deploy.plugins.module_utils import browser_selectors as sel

_JS = r"""
(() => {
  if (window.__qwen3) return;
  const S = __SELECTORS__;
  const thinkingRe = new RegExp(S.thinking_label);
  const now = () => performance.now();
  const rec = { watch: null, trace: S.trace, sockets: 0 };
  window.__qwen3 = rec;

  const origFetch = window.fetch.bind(window);
  window.fetch = function (input, init) {
    const w = rec.watch;
    if (!w || w.stopped) return origFetch(input, init);
    const url = typeof input === 'string' ? input : (input && input.url) || String(input);
    const method = String((init && init.method) || (input && input.method) || 'GET').toUpperCase();
    const r = { url: url.replace(location.origin, ''), method: method, start: now(), headers_at: null, status: null };
    if (url.indexOf(S.completion) >= 0 && init && typeof init.body === 'string') {
      try {
        const body = JSON.parse(init.body);
        r.message_id = body.id || null;
        r.body = rec.trace ? body : Object.keys(body).sort();
        if (!w.message_id) { w.message_id = r.message_id; w.post = r; }
      } catch (e) { r.body_error = String(e); }
    }
    if (w.fetches.length < 200) w.fetches.push(r);
    return origFetch(input, init).then(
      (res) => { r.headers_at = now(); r.status = res.status; return res; },
      (err) => { r.headers_at = now(); r.error = String(err); throw err; });
  };

  function onFrame(data) {
    const w = rec.watch;
    if (!w || w.stopped || typeof data !== 'string' || data.slice(0, 2) !== '42') return;
    const t = now();
    let m;
    try { m = JSON.parse(data.slice(2)); } catch (e) { return; }
    const p = (m && m[1]) || {};
    const d = p.data || {};
    const inner = (d.data && d.data.type) || '';
    const mine = !!w.message_id && p.message_id === w.message_id;
    if (mine && d.type === 'response:completion' && inner === 'response.output_text.delta') {
      const text = d.data.delta || '';
      w.deltas += 1;
      w.delta_chars += text.length;
      if (w.first_delta === null && text.length) w.first_delta = t;
      if (w.deltas <= 3) w.ws_in.push({ t: t, event: m[0], type: d.type, inner: inner, mine: true });
      return;
    }
    if (mine && d.type === 'response:completion' && inner.indexOf('reasoning') >= 0) w.reasoning_deltas += 1;
    if (mine && d.type === 'chat:completion' && d.data && d.data.done && w.done_event === null) w.done_event = t;
    if (w.ws_in.length < 200) {
      w.ws_in.push({ t: t, event: m[0], type: d.type || null, inner: inner || null, mine: mine,
                     chat_id: p.chat_id ? 1 : 0 });
    }
  }

  const OrigWS = window.WebSocket;
  function WS(url, protocols) {
    const ws = protocols === undefined ? new OrigWS(url) : new OrigWS(url, protocols);
    rec.sockets += 1;
    ws.addEventListener('message', (ev) => onFrame(ev.data));
    const send = ws.send.bind(ws);
    ws.send = (data) => {
      const w = rec.watch;
      if (w && !w.stopped && typeof data === 'string' && data.slice(0, 2) === '42' && w.ws_out.length < 100) {
        w.ws_out.push({ t: now(), head: data.slice(0, 120) });
      }
      return send(data);
    };
    return ws;
  }
  WS.prototype = OrigWS.prototype;
  ['CONNECTING', 'OPEN', 'CLOSING', 'CLOSED'].forEach((k) => { WS[k] = OrigWS[k]; });
  window.WebSocket = WS;

  function answerText(root) {
    let text = '';
    for (const el of root.querySelectorAll(S.answer_text)) text += el.textContent;
    return text;
  }

  function opaque(root) {
    const span = root.querySelector(S.fade);
    return !span || parseFloat(getComputedStyle(span).opacity) >= 0.5;
  }

  function sample(w, f, e) {
    w.frames += 1;
    if (!w.message_id) return;
    const msg = document.querySelector(S.message.replace('{id}', w.message_id));
    const root = msg && msg.querySelector(S.response_in_message);
    if (!root) return;
    const text = answerText(root);
    const len = text.trim().length ? text.length : 0;
    if (len !== w.last_len) {
      if (w.updates.length < 5000) w.updates.push([f, e, len]);
      w.last_len = len;
    }
    if (len && w.first_text === null) w.first_text = [f, e];
    if (len && w.first_visible === null && opaque(root)) w.first_visible = [f, e];
    if (w.thinking_at === null) {
      for (const b of msg.querySelectorAll(S.thinking_button)) {
        if (thinkingRe.test(b.textContent || '')) {
          w.thinking_at = e;
          w.thinking_label = b.textContent.trim().slice(0, 80);
          break;
        }
      }
    }
    if (w.done_at === null && document.querySelector(S.done.replace('{id}', w.message_id))) {
      w.done_at = e;
      w.final_len = len;
      w.final_text = rec.trace ? text : text.slice(0, 400);
      w.has_lt = text.indexOf('<') >= 0;
    }
    // Done, and the text (if any) seen at least half opaque: a short answer may end before its fade-in does.
    if (w.done_at !== null && (w.first_visible !== null || !len)) w.stopped = true;
  }

  function loop(w) {
    if (w.stopped || rec.watch !== w) return;
    requestAnimationFrame(() => {
      const f = now();
      const ch = new MessageChannel();
      ch.port1.onmessage = () => sample(w, f, now());
      ch.port2.postMessage(null);
      loop(w);
    });
  }

  window.addEventListener('keydown', (ev) => {
    if (ev.key !== 'Enter' || ev.shiftKey || ev.isComposing || !rec.armed) return;
    const target = ev.target;
    if (!target || !target.closest || !target.closest(S.input)) return;
    rec.armed = false;
    const w = { enter: ev.timeStamp, message_id: null, post: null, fetches: [], ws_in: [], ws_out: [],
                first_delta: null, deltas: 0, delta_chars: 0, reasoning_deltas: 0, done_event: null,
                frames: 0, updates: [], last_len: 0, first_text: null, first_visible: null,
                thinking_at: null, thinking_label: null, done_at: null, final_len: null, stopped: false };
    rec.watch = w;
    loop(w);
  }, true);
})();
"""


def script(trace: bool = False) -> str:
    """The recorder with the selectors filled in (``trace``: keep request bodies and the full answer text)."""
    selectors = {
        "input": sel.CHAT_INPUT,
        "message": sel.MESSAGE,
        "response_in_message": sel.RESPONSE.split(" ", 1)[1],
        "answer_text": sel.ANSWER_TEXT,
        "thinking_button": sel.THINKING_BUTTON,
        "thinking_label": sel.THINKING_LABEL,
        "fade": sel.FADE_SPAN,
        "done": sel.DONE,
        "completion": sel.COMPLETION_PATH,
        "trace": bool(trace),
    }
    return _JS.replace("__SELECTORS__", json.dumps(selectors))


# Read back (and stop) the current measurement.
COLLECT = """() => { const r = window.__qwen3; const w = r && r.watch;
  if (w) { w.stopped = true; } return w ? JSON.parse(JSON.stringify(w)) : null; }"""
# Arm the recorder for the next Enter (a keydown before this, e.g. while typing, is ignored).
ARM = "() => { window.__qwen3.armed = true; window.__qwen3.watch = null; return window.__qwen3.sockets; }"
# Resolve when the page has an idle period (requestIdleCallback), bounded by the given milliseconds.
IDLE = "(ms) => new Promise((ok) => requestIdleCallback(() => ok(true), { timeout: ms }))"
# Whether the done marker is there (polled by the probe, bounded).
DONE = "() => { const w = window.__qwen3.watch; return !!(w && w.stopped); }"
