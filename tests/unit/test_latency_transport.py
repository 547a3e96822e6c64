"""The latency tool's real HTTP transport against FakeStreamServer (a local test double, 127.0.0.1).

These use real sockets and the double's short sleeps (tens of ms); the metric maths itself is
tested on replayed streams in test_latency.py.
"""


import pytest
from qwen3_hosttools.latency import runner, transport
from support.fake_stream_server import FakeScript, FakeStreamServer


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "close-delimited"])
@pytest.mark.parametrize("kind", ["vllm", "ollama"])
def test_live_stream_matches_server_timing(kind, chunked):
    script = FakeScript(ttft_s=0.03, itl_s=0.004, tokens=8, chunked=chunked)
    with FakeStreamServer(script) as srv:
        doc = runner.run([transport.Target(kind, srv.url, "m", "k")], n=3, warmup=1, prompt="x", max_tokens=8,
                    timeout_s=5, time_limit_s=30)
    t = doc["summary"]["targets"][kind]
    assert t["ok"] == 3 and t["errors"] == {}
    assert t["stats"]["output_tokens"]["p50"] == 8
    # measured TTFT is never earlier than the double's flush of the first content token (one clock); how close it
    # lands is a speed claim, measured by the benchmark scripts/bench-ttft-fidelity, not asserted in a unit test
    for res, sent in zip(doc["runs"][0]["results"], srv.sent[1:], strict=True):
        server_ms = (sent["first_content"] - sent["t0"]) * 1000
        assert res["ttft_ms"] >= server_ms - 1.0


def test_live_cut_off_and_reasoning():
    with FakeStreamServer(FakeScript(tokens=6, cut_after=3, itl_s=0.001, ttft_s=0.001)) as srv:
        doc = runner.run([transport.Target("vllm", srv.url, "m")], n=2, warmup=0, prompt="x", max_tokens=8,
                    timeout_s=5, time_limit_s=30)
    assert doc["summary"]["targets"]["vllm"]["errors"] == {"cut_off": 2}
    with FakeStreamServer(FakeScript(tokens=3, reasoning="hmm", keepalive=True, ttft_s=0.001)) as srv:
        doc = runner.run([transport.Target("ollama", srv.url, "m")], n=1, warmup=0, prompt="x", max_tokens=8,
                    timeout_s=5, time_limit_s=30)
    assert doc["summary"]["targets"]["ollama"]["thinking_sources"] == ["message.thinking"]
