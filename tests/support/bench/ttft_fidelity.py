"""How close is qwen3-latency's TTFT to the truth? Two benchmarks, numbers printed as JSON.

fake   The tool against FakeStreamServer (a test double on 127.0.0.1, tests/support/fake_stream_server.py)
       that flushes a scripted stream and records, on the same perf_counter clock, when it wrote each
       event. Tool TTFT minus the double's write time of the first content token = the tool's own overhead
       per request (HTTP parsing, SSE/NDJSON decoding, Python); same for every inter-token gap.

vllm   The tool against a running vLLM: scrape /metrics before and after N requests and compare the
       tool's mean time-to-first-chunk (vllm bench serve's TTFT definition) and mean TTFT (first content)
       with the server histogram vllm:time_to_first_token_seconds (delta sum / delta count over exactly
       those requests). With --bench, also run `vllm bench serve` (same vLLM venv) for N prompts at
       concurrency 1 and compare its mean TTFT with the histogram delta over its own requests.

  scripts/bench-ttft-fidelity fake -n 200
  scripts/bench-ttft-fidelity vllm --url http://127.0.0.1:8011 --model qwen3-demo --api-key-env KEY \
      --bench /tmp/vl-venv/bin/vllm --tokenizer /path/to/model -n 50
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from qwen3_hosttools.latency import kinds, runner, transport
from qwen3_hosttools.latency import stats as latency_stats


def stats(values):
    d = latency_stats.describe(values)
    return {k: d[k] for k in ("n", "mean", "p50", "p95", "max", "min")}


def bench_fake(args) -> dict:
    from support.fake_stream_server import FakeScript, FakeStreamServer  # test double

    out = {"mode": "fake (FakeStreamServer test double, 127.0.0.1)", "cases": []}
    for kind in ("vllm", "ollama"):
        for chunked in (True, False):
            script = FakeScript(ttft_s=args.ttft_ms / 1000, itl_s=args.itl_ms / 1000, tokens=args.tokens,
                                chunked=chunked)
            with FakeStreamServer(script) as srv:
                doc = runner.run([transport.Target(kind, srv.url, "fake", "k")], n=args.requests, warmup=args.warmup,
                            prompt="x", max_tokens=args.tokens, timeout_s=30, time_limit_s=args.time_limit)
                sent = srv.sent[args.warmup:]
            results = doc["runs"][0]["results"]
            ttft_over, itl_over, send, deliver = [], [], [], []
            for res, rec in zip(results, sent, strict=False):
                if not res["ok"]:
                    continue
                ttft_over.append(res["ttft_ms"] - (rec["first_content"] - rec["t0"]) * 1000)
                send.append((rec["t0"] - res["sent_at"]) * 1000)
                deliver.append((res["sent_at"] + res["ttft_ms"] / 1000 - rec["first_content"]) * 1000)
                server_content = [t for t, k in rec["events"] if k == "content"]
                server_gaps = [(b - a) * 1000 for a, b in itertools.pairwise(server_content)]
                itl_over += [c - s for c, s in zip(res["itl_ms"], server_gaps, strict=False)]
            out["cases"].append({
                "kind": kind, "transfer": "chunked" if chunked else "close-delimited",
                "ok": sum(r["ok"] for r in results), "requests": len(results),
                "script": {"ttft_ms": args.ttft_ms, "itl_ms": args.itl_ms, "tokens": args.tokens},
                "tool_ttft_ms": stats([r["ttft_ms"] for r in results if r["ok"]]),
                "tool_overhead_ttft_ms": stats(ttft_over),
                "tool_overhead_itl_ms": stats(itl_over),
                "send_to_server_handler_ms": stats(send),
                "server_flush_to_tool_token_ms": stats(deliver),
            })
    out["how"] = ("one process, one perf_counter clock. tool_overhead_ttft = tool TTFT - (double's flush of the "
                  "first content token - double's handler start): includes sending the request and the double's "
                  "own HTTP parsing, an upper bound. send_to_server_handler = handler start - tool send time. "
                  "server_flush_to_tool_token = tool's first-token time - double's flush: what the tool adds "
                  "on the receiving side (socket read, line split, JSON decode). itl overhead = tool gap - "
                  "double's gap between the same two tokens.")
    return out


METRIC = re.compile(r'^vllm:time_to_first_token_seconds_(sum|count)\{([^}]*)\}\s+([0-9.eE+-]+)$')


def scrape(url: str) -> tuple[float, float]:
    text = requests.get(url.rstrip("/") + "/metrics", timeout=10).text
    total = {"sum": 0.0, "count": 0.0}
    for line in text.splitlines():
        m = METRIC.match(line)
        if m:
            total[m.group(1)] += float(m.group(3))
    return total["sum"], total["count"]


def tool_round(args, target) -> dict:
    s0, c0 = scrape(args.url)
    doc = runner.run([target], n=args.requests, warmup=0, prompt=args.prompt, max_tokens=args.tokens, timeout_s=60,
                time_limit_s=args.time_limit)
    s1, c1 = scrape(args.url)
    res = [r for r in doc["runs"][0]["results"] if r["ok"]]
    server_mean = (s1 - s0) / (c1 - c0) * 1000 if c1 > c0 else None
    tool = {
        "requests_ok": len(res), "histogram_count_delta": c1 - c0,
        "server_mean_ttft_ms": round(server_mean, 3) if server_mean else None,
        "tool_ttfc_ms": stats([r["ttfc_ms"] for r in res]),
        "tool_ttft_ms": stats([r["ttft_ms"] for r in res]),
        "tool_itl_ms": stats([g for r in res for g in r["itl_ms"]]),
    }
    if server_mean and res:
        tool["tool_mean_ttfc_minus_server_ms"] = round(tool["tool_ttfc_ms"]["mean"] - server_mean, 3)
        tool["tool_mean_ttft_minus_server_ms"] = round(tool["tool_ttft_ms"]["mean"] - server_mean, 3)
    return tool


def bench_round(args, key) -> dict:
    with tempfile.TemporaryDirectory(prefix="vf-bench-") as tmp:
        argv = [args.bench, "bench", "serve", "--backend", "openai-chat", "--base-url", args.url,
                "--endpoint", "/v1/chat/completions", "--model", args.model, "--tokenizer", args.tokenizer,
                "--dataset-name", "random", "--random-input-len", str(args.input_len),
                "--random-output-len", str(args.tokens), "--num-prompts", str(args.requests),
                "--max-concurrency", "1", "--request-rate", "inf", "--num-warmups", "0",
                "--ready-check-timeout-sec", "0", "--disable-tqdm",
                "--save-result", "--result-dir", tmp, "--result-filename", "bench.json"]
        env = dict(os.environ)
        if key:
            env["OPENAI_API_KEY"] = key
        s0, c0 = scrape(args.url)
        t0 = time.monotonic()
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=args.time_limit, check=False)
        s1, c1 = scrape(args.url)
        bench = {"rc": proc.returncode, "seconds": round(time.monotonic() - t0, 1)}
        path = Path(tmp) / "bench.json"
        if proc.returncode == 0 and path.exists():
            data = json.loads(path.read_text())
            server_mean = (s1 - s0) / (c1 - c0) * 1000 if c1 > c0 else None
            bench.update({k: data.get(k) for k in ("completed", "mean_ttft_ms", "median_ttft_ms",
                                                   "p99_ttft_ms", "mean_itl_ms", "median_itl_ms")})
            bench["histogram_count_delta"] = c1 - c0
            bench["server_mean_ttft_ms"] = round(server_mean, 3) if server_mean else None
            if server_mean and data.get("mean_ttft_ms") is not None:
                bench["bench_mean_ttft_minus_server_ms"] = round(data["mean_ttft_ms"] - server_mean, 3)
        else:
            bench["stderr_tail"] = proc.stderr[-2000:]
        return bench


def bench_vllm(args) -> dict:
    key = os.environ.get(args.api_key_env) if args.api_key_env else None
    target = transport.Target("vllm", args.url, args.model, key)
    out = {"mode": "vllm", "url": args.url, "model": args.model, "requests_per_round": args.requests,
           "rounds": []}
    if args.warmup:
        runner.run([target], n=args.warmup, warmup=0, prompt=args.prompt, max_tokens=args.tokens, timeout_s=60,
              time_limit_s=args.time_limit)
    for _ in range(args.rounds):  # alternate the two clients so load drift hits both alike
        entry = {"qwen3_latency": tool_round(args, target)}
        if args.bench:
            entry["vllm_bench_serve"] = bench_round(args, key)
        out["rounds"].append(entry)
    tool_d = [r["qwen3_latency"].get("tool_mean_ttfc_minus_server_ms") for r in out["rounds"]]
    out["tool_mean_ttfc_minus_server_ms_by_round"] = tool_d
    if args.bench:
        out["bench_mean_ttft_minus_server_ms_by_round"] = [
            r["vllm_bench_serve"].get("bench_mean_ttft_minus_server_ms") for r in out["rounds"]]
    out["how"] = ("server mean = delta(vllm:time_to_first_token_seconds_sum)/delta(_count) over exactly the "
                  "requests of that client in that round (sequential, concurrency 1); tool ttfc = first chunk "
                  "with choices (vllm bench serve's definition), ttft = first non-empty content; "
                  "client minus server = HTTP, tokenization/chat template, detokenization and SSE on top "
                  "of the engine's own TTFT")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    f = sub.add_parser("fake")
    f.add_argument("-n", "--requests", type=int, default=100)
    f.add_argument("--warmup", type=int, default=3)
    f.add_argument("--ttft-ms", type=float, default=20.0)
    f.add_argument("--itl-ms", type=float, default=5.0)
    f.add_argument("--tokens", type=int, default=32)
    f.add_argument("--time-limit", type=float, default=300)
    v = sub.add_parser("vllm")
    v.add_argument("--url", required=True)
    v.add_argument("--model", required=True)
    v.add_argument("--api-key-env", default="", help="env var holding the API key")
    v.add_argument("-n", "--requests", type=int, default=50)
    v.add_argument("--warmup", type=int, default=3)
    v.add_argument("--tokens", type=int, default=32)
    v.add_argument("--prompt", default=kinds.DEFAULT_PROMPT)
    v.add_argument("--input-len", type=int, default=16, help="vllm bench serve random input length")
    v.add_argument("--bench", help="path of the `vllm` executable to also run `vllm bench serve`")
    v.add_argument("--tokenizer", help="tokenizer path for vllm bench serve")
    v.add_argument("--rounds", type=int, default=3, help="alternating tool / bench rounds")
    v.add_argument("--time-limit", type=float, default=300)
    args = ap.parse_args()
    if args.requests < 1 or args.requests > 10000:
        ap.error("-n must be in 1..10000")
    result = bench_fake(args) if args.mode == "fake" else bench_vllm(args)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
