"""What a tuned max_num_seqs was measured on, and whether the host still matches it.

The tuner's host_vars snippet carries ``preflight_tuned_for`` (this dict); preflight compares it with the host it
runs on and warns, naming the field, when the GPU, the vLLM version, the profile or max_num_seqs itself moved on.
"""

from __future__ import annotations

from typing import Any

# The fields preflight compares, and what each means in a warning.
COMPARED = {
    "profile": "profile",
    "vllm_version": "vLLM version",
    "gpu": "GPU",
    "max_num_seqs": "max_num_seqs",
}
FIELDS = (*COMPARED, "input_len", "output_len", "ttft_p95_ms", "tpot_ms", "date", "host", "report")


def gpu_label(gpus: dict[str, Any] | None) -> str:
    """``'1x NVIDIA H100 80GB HBM3'`` from the qwen3_gpus fact shape (nvidia_smi.parse); ``'none'`` without GPUs."""
    listed = list((gpus or {}).get("gpus") or [])
    if not listed:
        return "none"
    names = sorted({str(g.get("name") or "unknown") for g in listed})
    return f"{len(listed)}x " + " + ".join(names)


def build(llm: dict[str, Any], gpus: dict[str, Any] | None, *, max_num_seqs: int, input_len: int, output_len: int,
          slo: dict[str, Any], date: str, host: str, report: str) -> dict[str, Any]:
    return {
        "max_num_seqs": int(max_num_seqs),
        "profile": str(llm.get("name")),
        "vllm_version": str(((llm.get("vllm") or {}).get("install") or {}).get("version")
                            or (llm.get("vllm") or {}).get("version") or ""),
        "gpu": gpu_label(gpus),
        "input_len": int(input_len),
        "output_len": int(output_len),
        "ttft_p95_ms": slo["ttft_ms"],
        "tpot_ms": slo.get("tpot_ms"),
        "date": date,
        "host": host,
        "report": report,
    }


def mismatches(tuned_for: dict[str, Any] | None, llm: dict[str, Any], gpus: dict[str, Any] | None,
               *, gpus_known: bool = True) -> list[str]:
    """Warnings (each starting with ``preflight_tuned_for.<field>``) where the host no longer matches what the
    tuner measured; [] when nothing was tuned or everything matches. ``gpus_known`` false (GPU checks skipped):
    the GPU is not compared."""
    if not tuned_for:
        return []
    here = build(llm, gpus, max_num_seqs=int(llm.get("max_num_seqs") or 0), input_len=0, output_len=0,
                 slo={"ttft_ms": 0}, date="", host="", report="")
    lines = []
    for field, what in COMPARED.items():
        if field == "gpu" and not gpus_known:
            continue
        if field in tuned_for and str(tuned_for[field]) != str(here[field]):
            lines.append(f"preflight_tuned_for.{field}: max_num_seqs {tuned_for.get('max_num_seqs')} was tuned with "
                         f"{what} {tuned_for[field]!s}, this host has {here[field]!s}: rerun playbooks/tune.yml "
                         "(the tuned value may no longer meet the SLO)")
    return lines


def check_shape(value: Any) -> str | None:
    """Input rule of preflight_tuned_for: {} or the tuner's dict."""
    if value in ({}, None):
        return None
    if not isinstance(value, dict):
        return "must be a mapping (the tuner's snippet) or {}"
    unknown = sorted(set(value) - set(FIELDS))
    if unknown:
        return f"unknown keys {unknown}; the tuner writes {', '.join(FIELDS)}"
    seqs = value.get("max_num_seqs")
    if seqs is not None and (isinstance(seqs, bool) or not isinstance(seqs, int) or seqs < 1):
        return f"max_num_seqs: must be an integer >= 1, got {seqs!r}"
    return None
