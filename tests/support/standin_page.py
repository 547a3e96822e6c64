"""A stand-in for the Open WebUI page and server (a test double) for the browser recorder's unit test.

``StandinServer`` serves, on 127.0.0.1, a page with the selectors the probe uses (chat input, one assistant message
per Enter with the answer body, a fade-in per word, a "Thinking..." block, the done marker), ``POST
/api/chat/completions`` (JSON) and a websocket at ``/ws/socket.io`` that streams the answer as Socket.IO ``events``
frames, like Open WebUI 0.12.4 does. Hand-written RFC 6455 framing (text frames only), one thread per connection.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = """<!doctype html><html><head><style>
.fade-in-token { animation: fade .1s ease-out; } @keyframes fade { from { opacity: 0 } to { opacity: 1 } }
</style></head><body>
<div id="chat-input" contenteditable="true"></div><button id="send-message-button">send</button>
<div id="model-selector-model-button">m</div><div id="messages"></div>
<script>
const ws = new WebSocket(location.origin.replace('http', 'ws') + '/ws/socket.io/?EIO=4&transport=websocket');
let text = '';
document.getElementById('chat-input').addEventListener('keydown', async (e) => {
  if (e.key !== 'Enter') return;
  e.preventDefault();
  const id = 'a' + Math.random().toString(16).slice(2);
  const t = performance.now(); while (performance.now() - t < 30) {}  // the page's own work before the POST
  document.getElementById('messages').innerHTML = '<div id="message-' + id + '"><div id="response-content-container">'
    + '<div><div class="markdown-prose"></div></div></div></div>';
  text = '';
  await fetch('/api/chat/completions', { method: 'POST', body: JSON.stringify({ id: id, model: 'm' }) });
  ws.send('42["go",' + JSON.stringify({ id: id, mode: document.body.dataset.mode || 'answer' }) + ']');
});
ws.onmessage = (ev) => {
  const m = JSON.parse(ev.data.slice(2)); const p = m[1]; const d = p.data;
  const msg = document.getElementById('message-' + p.message_id);
  if (d.type === 'response:completion' && d.data.type === 'response.output_text.delta') {
    text += d.data.delta;
    requestAnimationFrame(() => {  // one repaint per frame, words wrapped in fade-in spans, like the real page
      msg.querySelector('.markdown-prose').innerHTML =
        text.split(' ').map((w) => '<span class="fade-in-token">' + w + ' </span>').join('');
    });
  } else if (d.type === 'response:completion') {
    msg.querySelector('#response-content-container').insertAdjacentHTML('afterbegin', '<button>Thinking...</button>');
  } else if (d.type === 'chat:completion') {
    setTimeout(() => msg.insertAdjacentHTML('beforeend', '<button class="copy-response-button">Copy</button>'), 50);
  }
};
</script></body></html>"""

WORDS = ["Hello", " there,", " reader.", " More", " words", " follow."]


def frame(message_id: str, type_: str, data: dict) -> str:
    return "42" + json.dumps(["events", {"chat_id": "c1", "message_id": message_id,
                                          "data": {"type": type_, "data": data}}])


def _send(conn: socket.socket, text: str) -> None:
    data = text.encode()
    head = b"\x81" + (bytes([len(data)]) if len(data) < 126 else b"\x7e" + struct.pack(">H", len(data)))
    conn.sendall(head + data)


def _recv(conn: socket.socket) -> str | None:
    def exact(n):
        buf = b""
        while len(buf) < n:
            chunk = conn.recv(n - len(buf))
            if not chunk:
                raise ConnectionError
            buf += chunk
        return buf

    b0, b1 = exact(2)
    size = b1 & 0x7F
    size = struct.unpack(">H", exact(2))[0] if size == 126 else struct.unpack(">Q", exact(8))[0] if size == 127 else size
    mask = exact(4)
    payload = bytes(c ^ mask[i % 4] for i, c in enumerate(exact(size)))
    return None if b0 & 0x0F == 8 else payload.decode()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *_args):
        pass

    def do_GET(self):
        if self.path.startswith("/ws/socket.io"):
            accept = base64.b64encode(hashlib.sha1(
                (self.headers["Sec-WebSocket-Key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest())
            self.wfile.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            self.wfile.flush()
            self.close_connection = True
            try:
                while (message := _recv(self.connection)) is not None:
                    if message.startswith('42["go"'):
                        go = json.loads(message[2:])[1]
                        if go["mode"] == "thinking":
                            _send(self.connection, frame(go["id"], "response:completion",
                                                         {"type": "response.reasoning_text.delta", "delta": "hm"}))
                        for word in WORDS:
                            _send(self.connection, frame(go["id"], "response:completion",
                                                         {"type": "response.output_text.delta", "delta": word}))
                        _send(self.connection, frame(go["id"], "chat:completion", {"done": True}))
            except (ConnectionError, OSError):
                pass
            return
        body = PAGE.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"status": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class StandinServer:
    """``with StandinServer() as srv: srv.url``"""

    def __enter__(self) -> StandinServer:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
