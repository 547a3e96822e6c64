"""What the tuner sweeps and against what: the max_num_seqs grid, the SLO taken from the thresholds that gate
verification, and the seed of each point."""

from __future__ import annotations

from typing import Any

# A point passes when at least this share of its requests met the SLO (and none failed).
GOOD_FRACTION = 0.95


class TuningError(ValueError):
    """A tuning input that cannot be used; the message starts with the variable."""


def grid(bound: int, start: int = 1) -> list[int]:
    """Powers of two from ``start`` (itself a power of two) up to ``bound``: ``grid(40)`` is 1, 2, 4, 8, 16, 32."""
    if isinstance(start, bool) or not isinstance(start, int) or start < 1 or start & (start - 1):
        raise TuningError(f"engine_tuner_min_seqs: must be a power of two >= 1, got {start!r}")
    if isinstance(bound, bool) or not isinstance(bound, int) or bound < start:
        raise TuningError(f"engine_tuner_max_seqs: must be an integer >= engine_tuner_min_seqs ({start}), "
                          f"got {bound!r}")
    points, n = [], start
    while n <= bound:
        points.append(n)
        n *= 2
    return points


def slo(thresholds: dict[str, Any]) -> dict[str, Any]:
    """The SLO a point is judged against, from the merged verification thresholds (``llm.thresholds`` +
    ``verify_thresholds``): TTFT p95 always (it must be set), and TPOT from ``itl_p95_ms`` where one is set.
    vllm bench's --goodput judges each request's TTFT and TPOT; a point passes when >= 95 % are good."""
    ttft = thresholds.get("ttft_p95_ms")
    if ttft is None or isinstance(ttft, bool) or not isinstance(ttft, (int, float)) or ttft <= 0:
        raise TuningError("ttft_p95_ms: the tuner needs a TTFT p95 threshold (llm.thresholds or verify_thresholds), "
                          f"got {ttft!r}")
    itl = thresholds.get("itl_p95_ms")
    tpot = None if itl is None or isinstance(itl, bool) or not isinstance(itl, (int, float)) or itl <= 0 else itl
    return {"ttft_ms": float(ttft), "tpot_ms": None if tpot is None else float(tpot), "good_fraction": GOOD_FRACTION}


def seed(base: int, concurrency: int, attempt: int = 0) -> int:
    """A different seed per point (and per re-check), reproducible from the base seed."""
    return int(base) + 1000 * int(attempt) + int(concurrency)


def capacity_argv(tool_argv: list[str], engine: dict[str, Any], *, concurrency: int, prompts: int, warmups: int,
                  input_len: int, output_len: int, seed_value: int, slo_values: dict[str, Any], timeout: int,
                  result_dir: str) -> list[str]:
    """The host tool's command line for one point (``capacity`` subcommand of the host tools zipapp). The key goes
    by file (``--key-file``), never argv."""
    base = str(engine["url"]).rstrip("/")
    argv = [
        *tool_argv,
        "capacity", "--vllm-bin", f"{engine['venv']}/bin/vllm", "--base-url", base,
        "--model", str(engine["served_model_name"]), "--tokenizer", str(engine["model_path"]),
        "--key-file", str(engine["api_key_file"]), "--key-name", str(engine.get("api_key_name") or "VLLM_API_KEY"),
        "--concurrency", str(int(concurrency)), "--prompts", str(int(prompts)), "--warmups", str(int(warmups)),
        "--input-len", str(int(input_len)), "--output-len", str(int(output_len)), "--seed", str(int(seed_value)),
        "--ttft-ms", _num(slo_values["ttft_ms"]),
    ]
    if slo_values.get("tpot_ms") is not None:
        argv += ["--tpot-ms", _num(slo_values["tpot_ms"])]
    argv += ["--metrics-url", base + str(engine.get("metrics_path") or "/metrics"),
             "--good-fraction", _num(slo_values.get("good_fraction", GOOD_FRACTION)),
             "--timeout", str(int(timeout)), "--result-dir", result_dir]
    return argv


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
