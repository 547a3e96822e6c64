"""Will a serving profile fit in GPU memory? A per-GPU estimate with a printable breakdown.

Per GPU, the engine needs

    weights / TP  +  KV cache / TP  +  overhead   <=   usable = total x gpu_memory_utilization

KV cache (bytes) = 2 (K and V) x layers x kv_heads x head_dim x bytes_per_value x tokens, where tokens is
``max_model_len x max_num_seqs``: every sequence the server batches at its full context, at once. That is
what Ollama allocates up front (``num_ctx x OLLAMA_NUM_PARALLEL``) and what vLLM needs to serve
``max_num_seqs`` full-length requests without preempting one (vLLM itself only refuses to start when a
single ``max_model_len`` sequence does not fit; ``kv_one_sequence_gib`` and ``full_length_seqs_fit`` in the
breakdown say how far from that a config is). Tensor parallelism splits weights and KV heads across GPUs.

Overhead is our estimate, not a vendor number: a fixed part per engine (CUDA context, cuBLAS/NCCL
workspaces, and for vLLM its captured CUDA graphs) plus a fraction of the per-GPU weights (peak activations
of the profiling forward pass / llama.cpp compute buffers grow with the model's width). Inventories can
raise it (``preflight_vram_overhead_gib``) where a site measured more.

Worked example (tests/unit/test_vram.py): Qwen3-14B (40 layers, 8 KV heads, head dim 128, bf16 KV) is
160 KiB of KV per token; 32768 x 16 tokens = 80 GiB, so the FP8 checkpoint (15.3 GiB) at 32k x 16 needs
about 99 GiB: it fits an H200 (140.4 GiB x 0.9 = 126.4 usable) but not an H100 80GB (79.6 x 0.9 = 71.6).
"""

from __future__ import annotations

import math
from typing import Any

from ansible_collections.qwen3.deploy.plugins.module_utils import cuda_route

GIB = 1024**3
MIB_PER_GIB = 1024

# Fixed per-GPU overhead in GiB. vLLM: ~0.5-1 GiB CUDA context + workspaces, up to ~1 GiB of CUDA graphs
# (captured for batch sizes up to max_num_seqs). Ollama (llama.cpp): CUDA context + graph/compute buffers.
OVERHEAD_FIXED_GIB = {"vllm": 2.0, "ollama": 1.0}
# Fraction of the per-GPU weights added for activations at peak (vLLM's profiling run, llama.cpp buffers).
OVERHEAD_WEIGHTS_FRACTION = 0.10

# Bytes per cached K/V value for Ollama's OLLAMA_KV_CACHE_TYPE (FACTS.md section 5).
OLLAMA_KV_CACHE_BYTES = {"f16": 2.0, "q8_0": 1.0, "q4_0": 0.5}

ENGINES = ("vllm", "ollama")


class VramError(ValueError):
    """Inputs that make no sense (zero, negative, non-numeric, unknown engine)."""


def _positive(value: Any, name: str, *, integer: bool = False) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise VramError(f"{name}: must be a number, got {value!r}")
    if integer and (not float(value).is_integer()):
        raise VramError(f"{name}: must be an integer, got {value!r}")
    if value <= 0:
        raise VramError(f"{name}: must be > 0, got {value!r}")
    return int(value) if integer else float(value)


def kv_bytes_per_token(num_layers: int, num_kv_heads: int, head_dim: int, dtype_bytes: float) -> float:
    """K and V for one token across all layers (whole model, before any tensor-parallel split)."""
    return 2 * num_layers * num_kv_heads * head_dim * dtype_bytes


def kv_cache_dtype_bytes(profile: dict) -> float:
    """Bytes per KV value: Ollama's OLLAMA_KV_CACHE_TYPE when the profile sets it, else vram.kv_cache_dtype_bytes."""
    if profile.get("engine") == "ollama":
        kind = str(((profile.get("ollama") or {}).get("env") or {}).get("OLLAMA_KV_CACHE_TYPE", "")).strip()
        if kind:
            if kind not in OLLAMA_KV_CACHE_BYTES:
                known = ", ".join(OLLAMA_KV_CACHE_BYTES)
                raise VramError(f"ollama.env.OLLAMA_KV_CACHE_TYPE: {kind!r} is not one of {known}")
            return OLLAMA_KV_CACHE_BYTES[kind]
    return profile["vram"]["kv_cache_dtype_bytes"]


def estimate(
    *,
    engine: str,
    weights_gib: float,
    num_layers: int,
    num_kv_heads: int,
    head_dim: int,
    kv_cache_dtype_bytes: float,
    max_model_len: int,
    max_num_seqs: int,
    tensor_parallel_size: int,
    gpu_memory_utilization: float,
    gpu_memory_total_mib: float,
    gpu_count: int,
    overhead_gib: float | None = None,
) -> dict[str, Any]:
    """Per-GPU breakdown in GiB and the verdict ``fits``.

    ``gpu_memory_total_mib`` is the smallest GPU's memory.total from nvidia-smi (MiB). Raises VramError on
    nonsense input and when ``tensor_parallel_size`` exceeds ``gpu_count`` (a replica cannot span GPUs the
    host does not have); ``gpu_count`` 0 means no GPU, which callers report before asking for a fit.
    """
    if engine not in ENGINES:
        raise VramError(f"engine: {engine!r} is not one of {', '.join(ENGINES)}")
    weights = _positive(weights_gib, "vram.weights_gib")
    layers = _positive(num_layers, "vram.num_layers", integer=True)
    kv_heads = _positive(num_kv_heads, "vram.num_kv_heads", integer=True)
    dim = _positive(head_dim, "vram.head_dim", integer=True)
    dtype_bytes = _positive(kv_cache_dtype_bytes, "vram.kv_cache_dtype_bytes")
    ctx = _positive(max_model_len, "max_model_len", integer=True)
    seqs = _positive(max_num_seqs, "max_num_seqs", integer=True)
    tp = _positive(tensor_parallel_size, "tensor_parallel_size", integer=True)
    util = _positive(gpu_memory_utilization, "gpu_memory_utilization")
    if util > 1:
        raise VramError(f"gpu_memory_utilization: must be in (0, 1], got {util}")
    total_mib = _positive(gpu_memory_total_mib, "gpu memory.total (MiB)")
    gpus = _positive(gpu_count, "gpu count", integer=True)
    if tp > gpus:
        raise VramError(f"tensor_parallel_size {tp} needs {tp} GPUs; the host has {gpus}")

    per_token = kv_bytes_per_token(layers, kv_heads, dim, dtype_bytes)
    tokens = ctx * seqs
    weights_per_gpu = weights / tp
    kv_per_gpu = per_token * tokens / tp / GIB
    kv_one_seq_per_gpu = per_token * ctx / tp / GIB
    if overhead_gib is None:
        overhead = OVERHEAD_FIXED_GIB[engine] + OVERHEAD_WEIGHTS_FRACTION * weights_per_gpu
    else:
        if isinstance(overhead_gib, bool) or not isinstance(overhead_gib, (int, float)) or overhead_gib < 0:
            raise VramError(f"overhead_gib: must be a number >= 0, got {overhead_gib!r}")
        overhead = float(overhead_gib)
    total_gib = total_mib / MIB_PER_GIB
    usable = total_gib * util
    needed = weights_per_gpu + kv_per_gpu + overhead
    room_for_kv = usable - weights_per_gpu - overhead
    full_seqs = max(0, math.floor(room_for_kv / kv_one_seq_per_gpu)) if room_for_kv > 0 else 0
    return {
        "engine": engine,
        "tensor_parallel_size": tp,
        "gpu_count": gpus,
        "kv_bytes_per_token": per_token,
        "kv_tokens": tokens,
        "weights_gib": round(weights_per_gpu, 2),
        "kv_cache_gib": round(kv_per_gpu, 2),
        "kv_one_sequence_gib": round(kv_one_seq_per_gpu, 2),
        "overhead_gib": round(overhead, 2),
        "needed_gib": round(needed, 2),
        "gpu_total_gib": round(total_gib, 2),
        "usable_gib": round(usable, 2),
        "headroom_gib": round(usable - needed, 2),
        "full_length_seqs_fit": min(full_seqs, 10**6),
        "fits": needed <= usable,
    }


def estimate_profile(
    profile: dict, gpu_memory_total_mib: float, gpu_count: int, overhead_gib: float | None = None
) -> dict[str, Any]:
    """`estimate` for a resolved profile (the fact ``llm``)."""
    vram = profile["vram"]
    return estimate(
        engine=profile["engine"],
        weights_gib=vram["weights_gib"],
        num_layers=vram["num_layers"],
        num_kv_heads=vram["num_kv_heads"],
        head_dim=vram["head_dim"],
        kv_cache_dtype_bytes=kv_cache_dtype_bytes(profile),
        max_model_len=profile["max_model_len"],
        max_num_seqs=profile["max_num_seqs"],
        tensor_parallel_size=profile["tensor_parallel_size"],
        gpu_memory_utilization=profile["gpu_memory_utilization"],
        gpu_memory_total_mib=gpu_memory_total_mib,
        gpu_count=gpu_count,
        overhead_gib=overhead_gib,
    )


def describe(result: dict[str, Any]) -> str:
    """One line with every number, for messages."""
    r = result
    verdict = "fits" if r["fits"] else "does NOT fit"
    return (
        f"per GPU (TP {r['tensor_parallel_size']} of {r['gpu_count']} GPUs): weights {r['weights_gib']} GiB "
        f"+ KV cache {r['kv_cache_gib']} GiB ({r['kv_tokens']} tokens) + overhead {r['overhead_gib']} GiB "
        f"= {r['needed_gib']} GiB vs usable {r['usable_gib']} GiB (of {r['gpu_total_gib']} GiB): {verdict}; "
        f"{r['full_length_seqs_fit']} full-length sequences fit"
    )


KV_POLICIES = ("full", "one_sequence")


def _cap(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.1f}"


def check_host(
    profile: dict,
    gpus: dict,
    *,
    host: str,
    overhead_gib: float | None = None,
    kv_policy: str = "full",
    pci_gpu_count: int = 0,
) -> dict[str, Any]:
    """Every GPU check preflight makes for ``profile`` (the fact ``llm``) on a host described by ``gpus``
    (:func:`nvidia_smi.parse`, the fact ``qwen3_gpus``). Returns refusals (the run must stop), warnings
    (printed) and the VRAM estimate; each message carries its numbers. The driver must run the engine build
    the profile installs (:func:`cuda_route.driver_refusal`: the CUDA major of the build -> minimum driver).

    ``pci_gpu_count``: NVIDIA display/3D controllers seen on the PCI bus. When nvidia-smi cannot run but
    the cards are there, the driver is simply not installed yet: gpu_host installs it, and the checks that
    need nvidia-smi are deferred (a warning says so) to gpu_host's own re-check.
    ``kv_policy``: ``full`` = every sequence at max_model_len must fit at once (what Ollama allocates);
    ``one_sequence`` (vLLM only) = vLLM's own start-up minimum, with a warning when full concurrency does not fit.
    """
    name = profile.get("name", "?")
    result: dict[str, Any] = {"refusals": [], "warnings": [], "estimate": None, "skipped": False, "deferred": False}
    refuse, warn = result["refusals"].append, result["warnings"].append
    if kv_policy not in KV_POLICIES:
        raise VramError(f"preflight_kv_cache_policy: {kv_policy!r} is not one of {', '.join(KV_POLICIES)}")
    if profile.get("accelerator") != "nvidia":
        result["skipped"] = True
        warn(f"profile {name} runs on {profile.get('accelerator')}: GPU checks skipped")
        return result

    if gpus.get("status") != "ok":
        if pci_gpu_count > 0 and gpus.get("status") in ("missing", "driver_not_loaded"):
            result["deferred"] = True
            warn(
                f"{pci_gpu_count} NVIDIA GPU(s) on the PCI bus of {host} but nvidia-smi cannot read them "
                f"({gpus.get('message')}): gpu_host installs/loads the driver, and the CUDA, VRAM and "
                "compute-capability checks run after it (gpu_host re-runs them)"
            )
        else:
            refuse(
                f"profile {name} needs an NVIDIA GPU; nvidia-smi found none on {host} "
                f"({gpus.get('status')}: {gpus.get('message')})"
            )
        return result

    count = gpus["count"]
    driver_refusal = cuda_route.driver_refusal(profile, gpus, host)
    if driver_refusal:
        refuse(driver_refusal)

    tp = profile["tensor_parallel_size"]
    if tp > count:
        refuse(f"profile {name}: tensor_parallel_size {tp} needs {tp} GPUs; nvidia-smi found {count} on {host}")
    elif gpus.get("min_memory_total_mib"):
        fit = estimate_profile(profile, gpus["min_memory_total_mib"], count, overhead_gib)
        result["estimate"] = fit
        line = f"profile {name} on {host}: {describe(fit)}"
        one_seq_fits = fit["weights_gib"] + fit["kv_one_sequence_gib"] + fit["overhead_gib"] <= fit["usable_gib"]
        if fit["fits"]:
            pass
        elif kv_policy == "one_sequence" and profile["engine"] == "vllm" and one_seq_fits:
            warn(
                f"{line}. preflight_kv_cache_policy=one_sequence: accepted because one "
                f"{profile['max_model_len']}-token sequence fits; at full length only "
                f"{fit['full_length_seqs_fit']} of max_num_seqs {profile['max_num_seqs']} run at once "
                "(vLLM preempts the rest)"
            )
        else:
            refuse(
                f"{line}. Lower llm_profile_overrides.max_model_len or max_num_seqs, raise "
                "tensor_parallel_size (more GPUs), or pick a smaller quantization"
            )
    else:
        warn(f"nvidia-smi reported no memory.total on {host}: VRAM fit not checked")

    cap = gpus.get("min_compute_cap")
    wanted = profile.get("min_compute_capability")
    if cap is None:
        if profile.get("quantization") == "fp8" or wanted is not None:
            warn(f"compute capability unknown on {host}: cannot confirm profile {name} runs there")
    elif profile.get("quantization") == "fp8":
        if cap >= 8.9:
            pass
        elif cap >= 8.0:
            warn(
                f"profile {name}: FP8 checkpoint on compute capability {_cap(cap)} ({host}) runs weight-only "
                "through Marlin kernels (native W8A8 FP8 needs >= 8.9): slower than on Ada/Hopper"
            )
        else:
            refuse(f"profile {name}: FP8 needs compute capability >= 8.0 (8.9 native); {host} has {_cap(cap)}")
    elif wanted is not None and cap < wanted:
        refuse(f"profile {name} needs compute capability >= {_cap(wanted)}; {host} has {_cap(cap)}")

    usable_share = profile["gpu_memory_utilization"]
    for gpu in gpus["gpus"]:
        if gpu["memory_total_mib"] and gpu["memory_used_mib"] is not None:
            free = gpu["memory_total_mib"] - gpu["memory_used_mib"]
            if profile["engine"] == "vllm" and free < gpu["memory_total_mib"] * usable_share:
                warn(
                    f"GPU {gpu['index']} on {host}: {gpu['memory_used_mib']} MiB already in use, {free} MiB free < "
                    f"gpu_memory_utilization {usable_share} x {gpu['memory_total_mib']} MiB: vLLM refuses to start "
                    "unless that memory is released"
                )
    if not gpus.get("persistence_mode_all"):
        warn(f"persistence mode is off on some GPU of {host}: gpu_host enables nvidia-persistenced")
    return result


def check_disk(free_bytes: float, path: str, disk_gib: float, *, host: str, name: str) -> str | None:
    """A refusal message when ``path`` (nearest existing parent of the models dir) has < disk_gib free."""
    free_gib = free_bytes / GIB
    if free_gib < disk_gib:
        return (
            f"profile {name} needs {disk_gib} GiB free for its weights under {path} on {host}; {free_gib:.1f} GiB free"
        )
    return None
