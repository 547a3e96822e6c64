"""Where the time between the page's POST and its first answer frame goes, on the wire (``--wire-clock``).

Two ``tcpdump`` captures run during the benchmark: one on this machine's loopback, where Chromium talks to the
SSH tunnel's local ports, and one on the test host's loopback, captured from its network namespace (``nsenter
-n``), where the tunnel's far end, nginx, Open WebUI and vLLM talk. A test host is a container on this machine's
kernel, so both captures carry timestamps from one clock and can be subtracted from each other.

Per request (ours only, in the order the page sent them), from the first bytes of each message:

* the page's ``POST /api/chat/completions`` leaving Chromium (this machine) and arriving at Open WebUI (host);
* Open WebUI's ``POST /v1/chat/completions`` to vLLM, and vLLM's first SSE chunk with non-empty ``content``
  (vLLM's OpenAI-compatible stream: ``data: {...}`` lines, the first chunk carries the role and empty content);
* Open WebUI's first Socket.IO ``events`` frame with answer text leaving Open WebUI, and reaching Chromium.

Frames are parsed as RFC 6455 section 5.2 defines them (a server's frames are unmasked); "answer text" is
``support.bench.netclock.first_text_delta``, the page recorder's rule. Through the reverse proxy Chromium's side
is TLS, so only the host's phases are reported then.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

from support.bench.netclock import first_text_delta

PAGE_POST = b"POST /api/chat/completions"
ENGINE_POST = b"POST /v1/chat/completions"


@dataclass(frozen=True)
class Segment:
    """One TCP segment with payload: capture time (s, the kernel's clock), ports, payload bytes."""

    t: float
    sport: int
    dport: int
    payload: bytes


def read_pcap(path: str) -> list[Segment]:
    """TCP segments with payload from a classic pcap file (Ethernet or Linux cooked link layer, IPv4/IPv6)."""
    with open(path, "rb") as fh:
        data = fh.read()
    return list(parse_pcap(data))


def parse_pcap(data: bytes) -> Iterator[Segment]:
    magic = struct.unpack("<I", data[:4])[0]
    if magic not in (0xA1B2C3D4, 0xA1B23C4D):
        raise ValueError("not a little-endian classic pcap file")
    scale = 1e9 if magic == 0xA1B23C4D else 1e6
    link = struct.unpack("<I", data[20:24])[0]
    offset = {1: 14, 113: 16}.get(link)
    if offset is None:
        raise ValueError(f"unsupported pcap link type {link}")
    pos = 24
    while pos + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack("<IIII", data[pos:pos + 16])
        frame = data[pos + 16:pos + 16 + incl]
        pos += 16 + incl
        ip = frame[offset:]
        if not ip:
            continue
        if ip[0] >> 4 == 4:
            proto, tcp = ip[9], ip[(ip[0] & 15) * 4:]
        elif ip[0] >> 4 == 6:
            proto, tcp = ip[6], ip[40:]
        else:
            continue
        if proto != 6 or len(tcp) < 20:
            continue
        sport, dport = struct.unpack("!HH", tcp[:4])
        payload = tcp[(tcp[12] >> 4) * 4:]
        if payload:
            yield Segment(sec + frac / scale, sport, dport, payload)


def server_text_frames(payload: bytes) -> Iterator[str]:
    """Text payloads of the unmasked (server to client) WebSocket frames that start in this segment."""
    pos = 0
    while pos + 2 <= len(payload):
        opcode, length, masked = payload[pos] & 0x0F, payload[pos + 1] & 0x7F, payload[pos + 1] & 0x80
        pos += 2
        if length == 126:
            length = struct.unpack("!H", payload[pos:pos + 2])[0]
            pos += 2
        elif length == 127:
            length = struct.unpack("!Q", payload[pos:pos + 8])[0]
            pos += 8
        if masked:
            return
        body = payload[pos:pos + length]
        pos += length
        if opcode == 1:
            yield body.decode("utf-8", "replace")


def carries_answer_text(payload: bytes) -> bool:
    return any(first_text_delta(text) for text in server_text_frames(payload))


def sse_has_content(payload: bytes) -> bool:
    """A chunk of vLLM's chat completion stream with non-empty ``choices[].delta.content``."""
    for line in payload.split(b"\n"):
        if not line.startswith(b"data: {"):
            continue
        try:
            chunk = json.loads(line[6:])
        except ValueError:
            continue
        if any((c.get("delta") or {}).get("content") for c in chunk.get("choices") or []):
            return True
    return False


def _ms(later: float | None, earlier: float | None) -> float | None:
    return round((later - earlier) * 1000, 1) if later is not None and earlier is not None else None


def _first(segments: list[Segment], start: float, end: float, test) -> Segment | None:
    return next((s for s in segments if start < s.t < end and test(s)), None)


def timelines(host: list[Segment], webui_port: int, engine_port: int,
              client: list[Segment] | None = None, tunnel_port: int | None = None) -> list[dict]:
    """Per page POST to ours (in order): the phases above in ms; the client side only with ``client``."""
    posts = [s.t for s in host if s.dport == webui_port and s.payload.startswith(PAGE_POST)]
    client_posts = ([s.t for s in client if s.dport == tunnel_port and s.payload.startswith(PAGE_POST)]
                    if client is not None else [])
    out = []
    for i, at_webui in enumerate(posts):
        end = posts[i + 1] if i + 1 < len(posts) else float("inf")
        call = _first(host, at_webui, end, lambda s: s.dport == engine_port and s.payload.startswith(ENGINE_POST))
        token = (_first(host, call.t, end, lambda s, c=call: s.sport == engine_port and s.dport == c.sport
                        and sse_has_content(s.payload)) if call else None)
        frame = _first(host, at_webui, end, lambda s: s.sport == webui_port and carries_answer_text(s.payload))
        row = {"server_before_engine_ms": _ms(call and call.t, at_webui),
               "engine_first_token_ms": _ms(token and token.t, call and call.t),
               "relay_ms": _ms(frame and frame.t, token and token.t),
               "server_post_to_first_frame_ms": _ms(frame and frame.t, at_webui)}
        if i < len(client_posts):
            sent = client_posts[i]
            c_end = client_posts[i + 1] if i + 1 < len(client_posts) else float("inf")
            seen = _first(client, sent, c_end, lambda s: s.sport == tunnel_port and carries_answer_text(s.payload))
            row |= {"post_to_server_ms": _ms(at_webui, sent),
                    "tunnel_back_ms": _ms(seen and seen.t, frame and frame.t),
                    "wire_post_to_first_frame_ms": _ms(seen and seen.t, sent)}
        out.append(row)
    return out


class WireCapture:
    """``tcpdump`` on this machine's loopback and in a local test host's network namespace, while in use."""

    def __init__(self, container: str, *, webui_port: int, engine_port: int, tunnel_port: int, tunnel_tls: bool,
                 workdir: str):
        self.container = container
        self.webui_port, self.engine_port = webui_port, engine_port
        self.tunnel_port, self.tunnel_tls = tunnel_port, tunnel_tls  # Chromium's end; TLS: not readable
        self.host_filter = f"tcp port {webui_port} or tcp port {engine_port}"
        self.client_filter = f"tcp port {tunnel_port}"
        self.host_pcap = f"{workdir}/wire-host.pcap"
        self.client_pcap = f"{workdir}/wire-client.pcap"
        self.procs: list[subprocess.Popen] = []

    def start(self) -> None:
        if not shutil.which("tcpdump") or not shutil.which("nsenter"):
            raise RuntimeError("--wire-clock needs tcpdump and nsenter on this machine")
        pid = subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}}", self.container], capture_output=True,
                             text=True, check=True).stdout.strip()
        cmds = [["nsenter", "-t", pid, "-n", "tcpdump", "-i", "lo", "-s", "0", "-U", "-w", self.host_pcap,
                 self.host_filter],
                ["tcpdump", "-i", "lo", "-s", "0", "-U", "-w", self.client_pcap, self.client_filter]]
        self.procs = [subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for c in cmds]
        end = time.monotonic() + 15
        # tcpdump writes the file header once its capture is open: wait for both headers (bounded)
        while not all(os.path.exists(p) and os.path.getsize(p) >= 24 for p in (self.host_pcap, self.client_pcap)):
            if any(proc.poll() is not None for proc in self.procs) or time.monotonic() > end:
                exited = [proc for proc in self.procs if proc.poll() is not None]
                self.stop()
                raise RuntimeError("tcpdump did not start: " + " | ".join(
                    (proc.stderr.read() or b"").decode("utf-8", "replace")[-200:] for proc in exited if proc.stderr))
            time.sleep(0.05)

    def stop(self) -> None:
        """End both captures (again: nothing)."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            proc.wait(timeout=10)
        self.procs = []

    def timelines(self) -> list[dict]:
        """Per page POST to ours, in order (after stop)."""
        client = None if self.tunnel_tls else read_pcap(self.client_pcap)
        return timelines(read_pcap(self.host_pcap), self.webui_port, self.engine_port, client, self.tunnel_port)
