"""The browser benchmark's wire clock: pcap parsing, WebSocket and SSE rules, and the per-request phases.

The pcap files here come from a test double (``write_pcap``: the classic pcap format as libpcap writes it,
https://www.tcpdump.org/manpages/pcap-savefile.5.html, with Ethernet + IPv4/IPv6 + TCP headers). The payloads are
copied from a capture on the demo host (Open WebUI 0.12.4, vLLM 0.32.0 CPU build), shortened only in ids.
"""

import struct

import pytest
from support.bench import wireclock as wc

# vLLM's stream (HTTP chunked): the first chunk names the role with empty content, then the text.
SSE_ROLE = (b'107\r\ndata: {"id":"chatcmpl-8","object":"chat.completion.chunk","model":"qwen3-demo","choices":'
            b'[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n\n\r\n')
SSE_TEXT = (b'de\r\ndata: {"id":"chatcmpl-8","object":"chat.completion.chunk","model":"qwen3-demo","choices":'
            b'[{"index":0,"delta":{"content":" flo"},"logprobs":null,"finish_reason":null}]}\n\n\r\n')
EV_LIST = '42["events",{"chat_id":"c1","message_id":"m1","data":{"type":"chat:list","data":{"chat_id":"c1"}}}]'
EV_TEXT = ('42["events",{"chat_id":"c1","message_id":"m1","data":{"type":"response:completion","data":'
           '{"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,'
           '"delta":" flo"}}}]')


def ws_frame(text: str) -> bytes:
    """A server's text frame (RFC 6455 section 5.2: FIN + opcode 1, no mask, 7/16-bit length)."""
    body = text.encode()
    head = bytes([0x81, len(body)]) if len(body) < 126 else bytes([0x81, 126]) + struct.pack("!H", len(body))
    return head + body


def tcp_packet(sport: int, dport: int, payload: bytes, v6: bool = False) -> bytes:
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 1, 1, 5 << 4, 0x18, 65535, 0, 0) + payload
    if v6:
        ip = struct.pack("!IHBB16s16s", 6 << 28, len(tcp), 6, 64, b"\0" * 15 + b"\1", b"\0" * 15 + b"\1")
        return b"\0" * 12 + b"\x86\xdd" + ip + tcp
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0, 64, 6, 0, b"\x7f\0\0\1", b"\x7f\0\0\1")
    return b"\0" * 12 + b"\x08\x00" + ip + tcp


def write_pcap(packets: list[tuple[float, bytes]]) -> bytes:
    """Test double for tcpdump -w: global header (microseconds, Ethernet), then one record per packet."""
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
    for t, frame in packets:
        sec = int(t)
        out += struct.pack("<IIII", sec, round((t - sec) * 1e6), len(frame), len(frame)) + frame
    return out


def test_pcap_segments_ipv4_and_ipv6():
    data = write_pcap([(100.5, tcp_packet(1, 2, b"hello")), (100.75, tcp_packet(3, 4, b"", v6=False)),
                       (101.0, tcp_packet(5, 6, b"six", v6=True))])
    segs = list(wc.parse_pcap(data))
    assert [(s.sport, s.dport, s.payload) for s in segs] == [(1, 2, b"hello"), (5, 6, b"six")]  # no empty ACKs
    assert segs[0].t == pytest.approx(100.5)
    with pytest.raises(ValueError, match="pcap"):
        list(wc.parse_pcap(b"\0" * 24))


def test_answer_text_is_the_page_recorders_rule_inside_websocket_frames():
    assert wc.carries_answer_text(ws_frame(EV_TEXT))
    assert wc.carries_answer_text(ws_frame(EV_LIST) + ws_frame(EV_TEXT))  # two frames in one segment
    assert not wc.carries_answer_text(ws_frame(EV_LIST))
    assert not wc.carries_answer_text(b"\x81\x8422\x00\x00abcd")  # a client's (masked) frame is not the server's
    assert list(wc.server_text_frames(ws_frame("x" * 300))) == ["x" * 300]


def test_sse_content_skips_the_role_chunk():
    assert not wc.sse_has_content(SSE_ROLE)
    assert wc.sse_has_content(SSE_TEXT)
    assert not wc.sse_has_content(b"data: [DONE]\n\n")


def test_phases_per_request_on_one_clock():
    tunnel, webui, engine = 40000, 8080, 8000
    host = write_pcap([
        (10.0004, tcp_packet(50001, webui, b"POST /api/chat/completions HTTP/1.1\r\n\r\n{}")),
        (10.0130, tcp_packet(webui, 50002, ws_frame(EV_LIST))),
        (10.0290, tcp_packet(57504, engine, b"POST /v1/chat/completions HTTP/1.1\r\n\r\n{}")),
        (10.0300, tcp_packet(57999, engine, b"POST /v1/chat/completions HTTP/1.1\r\n\r\n{}")),  # someone else
        (10.0400, tcp_packet(engine, 57999, SSE_TEXT)),  # ... whose answer is not ours
        (10.0438, tcp_packet(engine, 57504, SSE_ROLE)),
        (10.0439, tcp_packet(engine, 57504, SSE_TEXT)),
        (10.0466, tcp_packet(webui, 50002, ws_frame(EV_TEXT))),
        (12.0000, tcp_packet(50001, webui, b"POST /api/chat/completions HTTP/1.1\r\n\r\n{}")),  # next, no answer
    ])
    client = write_pcap([
        (10.0000, tcp_packet(35000, tunnel, b"POST /api/chat/completions HTTP/1.1\r\n\r\n{}")),
        (10.0470, tcp_packet(tunnel, 35001, ws_frame(EV_TEXT))),
        (11.9990, tcp_packet(35000, tunnel, b"POST /api/chat/completions HTTP/1.1\r\n\r\n{}")),
    ])
    rows = wc.timelines(list(wc.parse_pcap(host)), webui, engine, list(wc.parse_pcap(client)), tunnel)
    assert rows[0] == {"server_before_engine_ms": 28.6, "engine_first_token_ms": 14.9, "relay_ms": 2.7,
                       "server_post_to_first_frame_ms": 46.2, "post_to_server_ms": 0.4, "tunnel_back_ms": 0.4,
                       "wire_post_to_first_frame_ms": 47.0}
    assert rows[1]["server_before_engine_ms"] is None and rows[1]["tunnel_back_ms"] is None
    only_host = wc.timelines(list(wc.parse_pcap(host)), webui, engine)  # through TLS: the host's phases only
    assert "tunnel_back_ms" not in only_host[0] and only_host[0]["relay_ms"] == 2.7
