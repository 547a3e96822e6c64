"""``qwen3-hosttools capacity``: one capacity-sweep point, measured with ``vllm bench serve`` from the engine's venv.

Runs on the engine host (standard library only) against a running vLLM, for the tuner (playbooks/tune.yml):

    qwen3-hosttools capacity --vllm-bin /opt/qwen3-deploy/vllm/vllm-0.32.0/bin/vllm \
        --base-url http://127.0.0.1:8000 --model qwen3-14b --tokenizer /srv/models/Qwen3-14B-FP8 \
        [--key-file /etc/qwen3-deploy/vllm.env [--key-name VLLM_API_KEY]] --concurrency 16 [--prompts 64] \
        [--warmups 16] --input-len 1000 --output-len 256 --seed 1016 --ttft-ms 250 [--tpot-ms 25] \
        [--metrics-url http://127.0.0.1:8000/metrics] [--good-fraction 0.95] [--timeout 1800] \
        --result-dir /var/tmp/qwen3-tune/run1 [--detailed]

Prints one JSON object on stdout (see ``summarize``) and exits 0 whether or not the point passes; 2 on wrong
arguments, 1 when the bench cannot run (no such vllm, the bench failed or timed out, no result file, /metrics
unreadable before the point).

What it does, and why:

1. Warm-up, when ``--warmups`` > 0: a separate ``vllm bench serve`` of that many prompts at the point's concurrency,
   seed ``seed + WARMUP_SEED_OFFSET``, its result kept beside the point's but not counted. Not bench's own
   ``--num-warmups``: that repeats ``input_requests[0]``, the first timed prompt (vllm/benchmarks/serve.py,
   ``benchmark()``: ``test_input`` from ``input_requests[0]``, sent ``num_warmups`` times; 0.24.0 and 0.32.0 alike),
   so one timed request would be a prefix-cache hit. The warm-up is there for the Triton JIT a batch size not seen
   since the engine started pays once (vLLM 0.24.0 ``_topk_topp_kernel``, tests/records/gpu-2026-12-07-h100-truth.md).
2. The point: ``--dataset-name random`` with ``--seed`` from the caller (a different seed per point, or later points
   reuse earlier prompts through the prefix cache), fixed lengths (``--random-range-ratio`` left at its default 0),
   ``--ignore-eos``, ``--max-concurrency`` = ``--concurrency``, all prompts sent at once (request rate inf,
   bench's default), ``--goodput ttft:X [tpot:Y]``, percentiles 50/95/99 of ttft, tpot and itl, ``--save-result``.
3. ``vllm:num_preemptions_total`` (summed over its label sets) from ``--metrics-url`` before the warm-up and after
   the point: the delta counts warm-up and point together (null without ``--metrics-url``).

Good requests = ``request_goodput * duration`` (bench counts a request good when every SLO given holds:
``good_completed / dur_s`` in ``calculate_metrics``; the result file keeps only the rate). ``good_fraction`` =
good / prompts sent, so a failed request is never good; ``passed`` = good_fraction >= ``--good-fraction`` and no
request failed.

The API key never reaches argv: it is read from ``--key-file`` (0600; a bare key or an EnvironmentFile's
``NAME=value`` line) and handed to bench as ``OPENAI_API_KEY`` in its environment, the variable bench's request
functions read (vllm/benchmarks/lib/endpoint_request_func.py ``_get_headers``, 0.24.0 and 0.32.0). Bench's
``/tokenize`` prompt alignment and ``/metrics`` send no key: vLLM guards only ``/v1``, ``/v2``, ``/inference`` and
``/cohere`` (0.32.0 vllm/entrypoints/serve/middleware/authenticate.py ``GUARDED_PREFIX``).

Every bench flag used here was checked in the source of ``vllm bench serve`` in vLLM 0.32.0 (the version deployed)
and 0.24.0 (the one the lent GPU ran): vllm/benchmarks/serve.py ``add_cli_args`` and
vllm/benchmarks/datasets/datasets.py ``add_dataset_parser``; the result keys read below are written by
``benchmark()`` / ``process_one_metric`` (``p{50,95,99}_{ttft,tpot,itl}_ms``) in both.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

WARMUP_SEED_OFFSET = 1_000_000
PERCENTILES = ("50", "95", "99")
METRICS = ("ttft", "tpot", "itl")
PREEMPTIONS = "vllm:num_preemptions_total"
KEY_ENV = "OPENAI_API_KEY"
LOG_TAIL = 2000


class BenchError(Exception):
    """The bench could not run or gave no usable result (exit 1)."""


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="qwen3-hosttools capacity", description=__doc__.split("\n\n")[0])
    parser.add_argument("--vllm-bin", required=True, help="the engine venv's vllm executable")
    parser.add_argument("--base-url", required=True, help="the engine's root URL, e.g. http://127.0.0.1:8000 (no /v1)")
    parser.add_argument("--model", required=True, help="the served model name")
    parser.add_argument("--tokenizer", required=True, help="tokenizer path (the model directory)")
    parser.add_argument("--key-file", help="file with the engine's API key (0600): a bare key or NAME=value lines")
    parser.add_argument("--key-name", default="VLLM_API_KEY", help="the variable to read from an EnvironmentFile")
    parser.add_argument("--concurrency", type=int, required=True, help="bench --max-concurrency")
    parser.add_argument("--prompts", type=int, help="timed prompts (default: max(16, 4 x concurrency))")
    parser.add_argument("--warmups", type=int, help="warm-up prompts at the same concurrency (default: concurrency)")
    parser.add_argument("--input-len", type=int, default=1000, help="prompt tokens (default 1000)")
    parser.add_argument("--output-len", type=int, default=256, help="output tokens, EOS ignored (default 256)")
    parser.add_argument("--seed", type=int, required=True, help="dataset seed; give every point its own")
    parser.add_argument("--ttft-ms", type=float, required=True, help="goodput SLO: time to first token, ms")
    parser.add_argument("--tpot-ms", type=float, help="goodput SLO: time per output token, ms")
    parser.add_argument("--metrics-url", help="the engine's /metrics, for the preemption count")
    parser.add_argument("--good-fraction", type=float, default=0.95, help="share of good requests to pass (0.95)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed for each bench run (1800)")
    parser.add_argument("--result-dir", required=True, help="where bench's JSON results and logs go")
    parser.add_argument("--detailed", action="store_true", help="bench --save-detailed (per-request times)")
    args = parser.parse_args(list(argv))
    if args.prompts is None:
        args.prompts = max(16, 4 * args.concurrency)
    if args.warmups is None:
        args.warmups = args.concurrency
    for name in ("concurrency", "prompts", "input_len", "output_len"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.warmups < 0:
        parser.error(f"--warmups must be 0 or more, got {args.warmups}")
    if args.seed < 0:
        parser.error(f"--seed must be 0 or more, got {args.seed}")
    for name in ("ttft_ms", "tpot_ms", "timeout"):
        value = getattr(args, name)
        if value is not None and not (math.isfinite(value) and value > 0):
            parser.error(f"--{name.replace('_', '-')} must be a positive number, got {value}")
    if not 0 < args.good_fraction <= 1:
        parser.error(f"--good-fraction must be in (0, 1], got {args.good_fraction}")
    if not args.base_url.startswith(("http://", "https://")) or args.base_url.rstrip("/").endswith("/v1"):
        parser.error(f"--base-url must be the engine's root URL (http[s]://host:port, no /v1), got {args.base_url!r}")
    args.base_url = args.base_url.rstrip("/")
    if args.metrics_url is not None and not args.metrics_url.startswith(("http://", "https://")):
        parser.error(f"--metrics-url must be an http(s) URL, got {args.metrics_url!r}")
    if args.key_file is not None:
        try:
            args.key = read_key(Path(args.key_file), args.key_name)
        except (OSError, ValueError) as exc:
            parser.error(f"--key-file {args.key_file}: {exc}")
    else:
        args.key = None
    return args


def read_key(path: Path, name: str) -> str:
    """The key in ``path`` (refused unless only its owner can read it): a ``name=value`` line, else the whole file.

    A bare key may end in ``=`` (base64 padding); any other ``=`` means an EnvironmentFile without ``name``."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ValueError(f"mode {mode:04o}: a key file must be readable by its owner only (0600)")
    text = path.read_text(encoding="utf-8")
    for raw in text.splitlines():
        line = raw.strip().removeprefix("export ").strip()
        if line.startswith(f"{name}="):
            key = line[len(name) + 1:].strip().strip("'\"")
            if not key:
                raise ValueError(f"{name}= is empty")
            return key
    key = text.strip()
    if not key or len(key.split()) != 1 or "=" in key.rstrip("="):
        raise ValueError(f"neither a {name}= line nor a bare key on one line")
    return key


def result_name(concurrency: int, seed: int, warmup: bool = False) -> str:
    return f"capacity-c{concurrency}-seed{seed}{'-warmup' if warmup else ''}.json"


def bench_argv(args: argparse.Namespace, *, warmup: bool = False) -> list[str]:
    """``vllm bench serve`` for the point (or its warm-up); no secret in it."""
    seed = args.seed + WARMUP_SEED_OFFSET if warmup else args.seed
    argv = [args.vllm_bin, "bench", "serve", "--backend", "vllm", "--base-url", args.base_url,
            "--endpoint", "/v1/completions", "--model", args.model, "--tokenizer", args.tokenizer,
            "--dataset-name", "random", "--random-input-len", str(args.input_len),
            "--random-output-len", str(args.output_len), "--ignore-eos",
            "--num-prompts", str(args.warmups if warmup else args.prompts),
            "--max-concurrency", str(args.concurrency), "--seed", str(seed), "--disable-tqdm",
            "--percentile-metrics", ",".join(METRICS), "--metric-percentiles", ",".join(PERCENTILES),
            "--save-result", "--result-dir", args.result_dir,
            "--result-filename", result_name(args.concurrency, args.seed, warmup)]
    if not warmup:
        goodput = [f"ttft:{args.ttft_ms:g}"] + ([f"tpot:{args.tpot_ms:g}"] if args.tpot_ms is not None else [])
        argv += ["--goodput", *goodput]
        if args.detailed:
            argv.append("--save-detailed")
    return argv


def bench_env(key: str | None, base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env.pop(KEY_ENV, None)
    if key:
        env[KEY_ENV] = key
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def run_bench(argv: list[str], env: dict[str, str], log: Path, timeout: float) -> float:
    """Run one bench to completion, its output into ``log``; seconds it took. BenchError when it fails."""
    start = time.monotonic()
    with log.open("w", encoding="utf-8") as out:
        try:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                    start_new_session=True)
        except OSError as exc:
            raise BenchError(f"cannot run {argv[0]}: {exc}") from exc
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise BenchError(f"vllm bench serve ran past --timeout {timeout:g} s and was killed; log: {log}") from None
    if rc != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-LOG_TAIL:]
        raise BenchError(f"vllm bench serve exited {rc}; log: {log}; its end:\n{tail}")
    return time.monotonic() - start


def load_result(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BenchError(f"no bench result in {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise BenchError(f"bench result {path} is not a JSON object")
    return data


def scrape_preemptions(url: str, timeout: float = 10) -> float:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (http(s) only, checked in parse_args)
        text = response.read().decode("utf-8", errors="replace")
    return parse_preemptions(text)


def parse_preemptions(text: str) -> float:
    """``vllm:num_preemptions_total`` summed over its label sets; ValueError when the scrape has none."""
    total, seen = 0.0, False
    for line in text.splitlines():
        if line.startswith(PREEMPTIONS) and line[len(PREEMPTIONS):len(PREEMPTIONS) + 1] in ("{", " "):
            total += float(line.rsplit(None, 1)[1])
            seen = True
    if not seen:
        raise ValueError(f"no {PREEMPTIONS} in the scrape")
    return total


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return round(float(value), 3)


def summarize(result: dict[str, Any], args: argparse.Namespace, argv: list[str],
              preemptions: float | None) -> dict[str, Any]:
    """The point's JSON from bench's result file (keys as vLLM 0.24.0 and 0.32.0 write them)."""
    try:
        completed, failed = int(result["completed"]), int(result["failed"])
        duration = float(result["duration"])
    except (KeyError, TypeError, ValueError) as exc:
        raise BenchError(f"bench result lacks completed/failed/duration: {exc!r}") from exc
    goodput = result.get("request_goodput")
    if not isinstance(goodput, (int, float)):
        raise BenchError("bench result has no request_goodput (was --goodput given?)")
    good = min(completed, round(goodput * duration))
    prompts = completed + failed
    fraction = good / prompts if prompts else 0.0
    out: dict[str, Any] = {
        "concurrency": args.concurrency, "prompts": prompts, "completed": completed, "failed": failed,
        "good": good, "good_fraction": round(fraction, 4),
        "passed": fraction >= args.good_fraction and failed == 0 and prompts == args.prompts,
    }
    for metric in METRICS:
        out[f"{metric}_ms"] = {f"p{p}": _number(result.get(f"p{p}_{metric}_ms")) for p in PERCENTILES}
    out["output_tokens_per_s"] = _number(result.get("output_throughput"))
    out["requests_per_s"] = _number(result.get("request_throughput"))
    out["good_requests_per_s"] = _number(goodput)
    out["preemptions"] = None if preemptions is None else int(preemptions)
    out["duration_s"] = round(duration, 3)
    out["seed"] = args.seed
    out["argv"] = argv
    out["slo"] = {"ttft_ms": args.ttft_ms, "tpot_ms": args.tpot_ms, "good_fraction": args.good_fraction}
    out["shape"] = {"input_len": args.input_len, "output_len": args.output_len}
    return out


def measure(args: argparse.Namespace) -> dict[str, Any]:
    result_dir = Path(args.result_dir)
    result_dir.mkdir(parents=True, exist_ok=True)
    env = bench_env(args.key)
    notes: list[str] = []
    before = None
    if args.metrics_url:
        try:
            before = scrape_preemptions(args.metrics_url)
        except (OSError, ValueError) as exc:
            raise BenchError(f"cannot read {PREEMPTIONS} from {args.metrics_url}: {exc}") from exc
    warmup = None
    if args.warmups:
        argv = bench_argv(args, warmup=True)
        (result_dir / result_name(args.concurrency, args.seed, True)).unlink(missing_ok=True)
        wall = run_bench(argv, env, result_dir / f"capacity-c{args.concurrency}-seed{args.seed}-warmup.log",
                         args.timeout)
        warm = load_result(result_dir / result_name(args.concurrency, args.seed, True))
        warmup = {"prompts": args.warmups, "seed": args.seed + WARMUP_SEED_OFFSET, "wall_s": round(wall, 1),
                  "completed": warm.get("completed"), "failed": warm.get("failed"), "argv": argv}
    argv = bench_argv(args)
    path = result_dir / result_name(args.concurrency, args.seed)
    path.unlink(missing_ok=True)
    wall = run_bench(argv, env, result_dir / f"capacity-c{args.concurrency}-seed{args.seed}.log", args.timeout)
    result = load_result(path)
    preemptions = None
    if before is not None:
        try:
            preemptions = scrape_preemptions(args.metrics_url) - before
        except (OSError, ValueError) as exc:
            notes.append(f"{PREEMPTIONS} unreadable after the point: {exc}")
    out = summarize(result, args, argv, preemptions)
    if out["prompts"] != args.prompts:
        notes.append(f"bench reported {out['prompts']} requests, {args.prompts} were asked for")
    out["warmup"] = warmup
    out["bench_wall_s"] = round(wall, 1)
    out["result_file"] = str(path)
    out["notes"] = notes
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        out = measure(args)
    except BenchError as exc:
        print(f"capacity: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(out, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
