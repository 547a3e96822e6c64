"""VRAM fit estimate (module_utils/vram.py) and the preflight GPU checks built on it."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_collections.qwen3.deploy.plugins.module_utils import nvidia_smi, vram
from ansible_collections.qwen3.deploy.plugins.module_utils import profile as profiles
from support.paths import CATALOG_FILE

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nvidia-smi"
# The A100 fixture runs driver 535 (CUDA 12.2): the catalog's vLLM is a CUDA 13 build, so A100 cases take the
# profile's CUDA 12 route (tests/unit/test_cuda_route.py covers the refusal itself).
CUDA12 = {"vllm": {"cuda_route": "cuda12"}}
H100_MIB = 81559  # NVIDIA H100 80GB HBM3, memory.total as nvidia-smi reports it
H200_MIB = 143771  # read on the lent H200
RTX4090_MIB = 24564

# Qwen3-14B published shape: 40 layers, 8 KV heads, head dim 128.
QWEN3_14B = {"num_layers": 40, "num_kv_heads": 8, "head_dim": 128}


def fp8_14b(**changes):
    args = {
        "engine": "vllm",
        "weights_gib": 15.3,
        **QWEN3_14B,
        "kv_cache_dtype_bytes": 2,
        "max_model_len": 32768,
        "max_num_seqs": 16,
        "tensor_parallel_size": 1,
        "gpu_memory_utilization": 0.9,
        "gpu_memory_total_mib": H200_MIB,
        "gpu_count": 1,
    }
    args.update(changes)
    return vram.estimate(**args)


def gpus(case: str) -> dict:
    query = (FIXTURES / f"{case}.query.txt").read_text()
    header = (FIXTURES / f"{case}.header.txt").read_text()
    return nvidia_smi.parse(0, query, "", header)


@pytest.fixture(scope="module")
def catalog():
    return profiles.load_catalog(CATALOG_FILE)


def test_kv_per_token_for_qwen3_14b_is_160_kib():
    assert vram.kv_bytes_per_token(40, 8, 128, 2) == 160 * 1024


def test_14b_fp8_32k_x16_fits_an_h200():
    fit = fp8_14b()
    assert fit["kv_cache_gib"] == 80.0
    assert fit["weights_gib"] == 15.3
    assert fit["overhead_gib"] == pytest.approx(2.0 + 1.53, abs=0.01)
    assert fit["usable_gib"] == pytest.approx(143771 / 1024 * 0.9, abs=0.01)
    assert fit["fits"] is True
    assert fit["full_length_seqs_fit"] == 21


def test_14b_fp8_32k_x16_does_not_fit_an_h100_80gb_but_x8_does():
    full = fp8_14b(gpu_memory_total_mib=H100_MIB)
    assert full["fits"] is False
    assert full["needed_gib"] == pytest.approx(98.83, abs=0.01)
    assert full["usable_gib"] == pytest.approx(71.68, abs=0.01)
    assert full["full_length_seqs_fit"] == 10
    assert fp8_14b(gpu_memory_total_mib=H100_MIB, max_num_seqs=8)["fits"] is True


def test_14b_fp8_does_not_fit_a_24gb_4090_even_at_8k_x1():
    small = fp8_14b(gpu_memory_total_mib=RTX4090_MIB, max_model_len=8192, max_num_seqs=1)
    assert small["kv_cache_gib"] == 1.25
    # 15.3 + 1.25 + 3.53 = 20.08 GiB needed vs 23.99 x 0.9 = 21.59 usable: fits only at that size
    assert small["fits"] is True
    assert fp8_14b(gpu_memory_total_mib=RTX4090_MIB, max_model_len=32768, max_num_seqs=4)["fits"] is False
    assert fp8_14b(gpu_memory_total_mib=RTX4090_MIB)["fits"] is False


def test_tensor_parallel_splits_weights_and_kv():
    one = fp8_14b(gpu_memory_total_mib=H100_MIB)
    two = fp8_14b(gpu_memory_total_mib=H100_MIB, tensor_parallel_size=2, gpu_count=2)
    assert two["weights_gib"] == pytest.approx(one["weights_gib"] / 2, abs=0.01)
    assert two["kv_cache_gib"] == pytest.approx(one["kv_cache_gib"] / 2, abs=0.01)
    assert two["fits"] is True  # 7.65 + 40 + 2.77 = 50.4 GiB per GPU on 71.7 usable


def test_tensor_parallel_larger_than_gpu_count_is_refused():
    with pytest.raises(vram.VramError, match="tensor_parallel_size 2 needs 2 GPUs; the host has 1"):
        fp8_14b(tensor_parallel_size=2, gpu_count=1)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("weights_gib", 0),
        ("weights_gib", -1),
        ("num_layers", 0),
        ("num_kv_heads", -8),
        ("head_dim", 0),
        ("kv_cache_dtype_bytes", 0),
        ("max_model_len", 0),
        ("max_num_seqs", -1),
        ("tensor_parallel_size", 0),
        ("gpu_memory_utilization", 0),
        ("gpu_memory_utilization", 1.5),
        ("gpu_memory_total_mib", 0),
        ("gpu_count", 0),
        ("max_model_len", 1.5),
        ("weights_gib", "15"),
        ("weights_gib", True),
        ("weights_gib", float("nan")),
        ("engine", "tgi"),
    ],
)
def test_nonsense_inputs_raise(field, value):
    with pytest.raises(vram.VramError):
        fp8_14b(**{field: value})


def test_negative_overhead_raises_and_explicit_overhead_is_used():
    with pytest.raises(vram.VramError):
        fp8_14b(overhead_gib=-1)
    assert fp8_14b(overhead_gib=5)["overhead_gib"] == 5


def test_ollama_kv_cache_follows_ollama_kv_cache_type(catalog):
    profile = profiles.resolve(catalog, "ollama-q8_0")
    assert vram.kv_cache_dtype_bytes(profile) == 2.0
    f16 = vram.estimate_profile(profile, RTX4090_MIB, 1)
    assert f16["kv_cache_gib"] == 1.25  # 8192 x 1 x 160 KiB
    q8 = profiles.resolve(catalog, "ollama-q8_0", {"ollama": {"env": {"OLLAMA_KV_CACHE_TYPE": "q8_0"}}})
    q4 = profiles.resolve(catalog, "ollama-q8_0", {"ollama": {"env": {"OLLAMA_KV_CACHE_TYPE": "q4_0"}}})
    assert vram.estimate_profile(q8, RTX4090_MIB, 1)["kv_cache_gib"] == 0.62
    assert vram.estimate_profile(q4, RTX4090_MIB, 1)["kv_cache_gib"] == 0.31
    parallel = profiles.resolve(catalog, "ollama-q8_0", {"max_num_seqs": 4})
    assert vram.estimate_profile(parallel, RTX4090_MIB, 1)["kv_cache_gib"] == 5.0  # num_ctx x NUM_PARALLEL
    bad = profiles.resolve(catalog, "ollama-q8_0", {"ollama": {"env": {"OLLAMA_KV_CACHE_TYPE": "fp8"}}})
    with pytest.raises(vram.VramError, match="OLLAMA_KV_CACHE_TYPE"):
        vram.kv_cache_dtype_bytes(bad)


def test_describe_prints_every_number():
    line = vram.describe(fp8_14b(gpu_memory_total_mib=H100_MIB))
    for text in ("weights 15.3 GiB", "KV cache 80.0 GiB", "overhead 3.53 GiB", "= 98.83 GiB", "usable 71.68 GiB"):
        assert text in line
    assert "does NOT fit" in line


# ---- check_host: the refusals preflight prints ----------------------------------------------


def test_check_host_accepts_vllm_fp8_on_h200(catalog):
    result = vram.check_host(profiles.resolve(catalog, "vllm-fp8"), gpus("h200"), host="gpu1")
    assert result["refusals"] == []
    assert result["warnings"] == []
    assert result["estimate"]["fits"] is True


@pytest.mark.parametrize("name", ["vllm-fp8", "vllm-awq", "vllm-1.7b-fp8", "ollama-q8_0", "ollama-q4"])
def test_catalog_gpu_profiles_fit_one_h100_as_shipped(catalog, name):
    result = vram.check_host(profiles.resolve(catalog, name), gpus("h100"), host="gpu1")
    assert result["refusals"] == []


def test_check_host_refuses_vllm_fp8_on_h100_with_numbers(catalog):
    too_many = profiles.resolve(catalog, "vllm-fp8", {"max_num_seqs": 16})
    result = vram.check_host(too_many, gpus("h100"), host="gpu1")
    (refusal,) = result["refusals"]
    assert "98.83 GiB vs usable 71.68 GiB" in refusal
    assert "llm_profile_overrides.max_model_len" in refusal


def test_one_sequence_policy_accepts_with_a_warning_for_vllm_only(catalog):
    profile = profiles.resolve(catalog, "vllm-fp8", {"max_num_seqs": 16})
    result = vram.check_host(profile, gpus("h100"), host="gpu1", kv_policy="one_sequence")
    assert result["refusals"] == []
    assert any("10 of max_num_seqs 16" in w for w in result["warnings"])
    ollama = profiles.resolve(catalog, "ollama-q8_0", {"max_model_len": 40960, "max_num_seqs": 64})
    assert vram.check_host(ollama, gpus("h100"), host="gpu1", kv_policy="one_sequence")["refusals"]
    with pytest.raises(vram.VramError, match="preflight_kv_cache_policy"):
        vram.check_host(profile, gpus("h100"), host="gpu1", kv_policy="sometimes")


def test_check_host_refuses_without_gpu(catalog):
    none = nvidia_smi.parse(127, "", "", "", "[Errno 2] No such file or directory: b'nvidia-smi'")
    result = vram.check_host(profiles.resolve(catalog, "vllm-fp8"), none, host="web1")
    assert result["refusals"] == [
        "profile vllm-fp8 needs an NVIDIA GPU; nvidia-smi found none on web1 "
        "(missing: nvidia-smi not found (no NVIDIA driver installed))"
    ]


def test_check_host_defers_when_cards_are_on_pci_but_driver_missing(catalog):
    none = nvidia_smi.parse(127, "", "", "", "No such file or directory")
    result = vram.check_host(profiles.resolve(catalog, "vllm-fp8"), none, host="new1", pci_gpu_count=8)
    assert result["refusals"] == []
    assert result["deferred"] is True
    assert "8 NVIDIA GPU(s) on the PCI bus" in result["warnings"][0]


def test_check_host_refuses_old_driver_and_fp8_below_8_0(catalog):
    result = vram.check_host(profiles.resolve(catalog, "vllm-fp8"), gpus("v100-old-driver"), host="old")
    text = " | ".join(result["refusals"])
    assert "driver 470.256.02 on old (CUDA 11.4) is too old for profile vllm-fp8" in text
    assert "needs NVIDIA driver >= 580.65.06" in text
    assert "FP8 needs compute capability >= 8.0 (8.9 native); old has 7.0" in text


def test_fp8_on_ampere_warns_weight_only_marlin(catalog):
    profile = profiles.resolve(catalog, "vllm-fp8", {"tensor_parallel_size": 2, **CUDA12})
    result = vram.check_host(profile, gpus("a100x2"), host="a100")
    assert result["refusals"] == []
    assert any("weight-only" in w and "Marlin" in w and "8.0" in w for w in result["warnings"])


def test_awq_needs_its_min_compute_capability(catalog):
    profile = profiles.resolve(catalog, "vllm-awq", {"max_model_len": 4096, "max_num_seqs": 1})
    result = vram.check_host(profile, gpus("v100-old-driver"), host="old")
    assert "profile vllm-awq needs compute capability >= 8.0; old has 7.0" in result["refusals"]


def test_tp_beyond_gpu_count_is_a_refusal_not_an_exception(catalog):
    profile = profiles.resolve(catalog, "vllm-fp8", {"tensor_parallel_size": 4, **CUDA12})
    result = vram.check_host(profile, gpus("a100x2"), host="a100")
    assert result["refusals"] == ["profile vllm-fp8: tensor_parallel_size 4 needs 4 GPUs; nvidia-smi found 2 on a100"]


def test_cpu_profiles_skip_gpu_checks(catalog):
    none = nvidia_smi.parse(127, "", "", "", "No such file or directory")
    result = vram.check_host(profiles.resolve(catalog, "cpu-demo"), none, host="demo")
    assert result["skipped"] is True
    assert result["refusals"] == []


def test_memory_in_use_and_persistence_off_warn(catalog):
    # the RTX 4090 fixture runs driver 550 (CUDA 12.4): the CUDA 12 route
    profile = profiles.resolve(catalog, "vllm-1.7b-fp8", {"max_model_len": 8192, "max_num_seqs": 8, **CUDA12})
    result = vram.check_host(profile, gpus("rtx4090"), host="ws")
    assert result["refusals"] == []
    assert any("persistence mode is off" in w for w in result["warnings"])
    busy = gpus("h200")
    busy["gpus"][0]["memory_used_mib"] = 40000
    assert any("vLLM refuses to start" in w for w in vram.check_host(profile, busy, host="x")["warnings"])


def test_check_disk():
    assert vram.check_disk(30 * vram.GIB, "/var/lib", 20, host="h", name="vllm-fp8") is None
    message = vram.check_disk(5 * vram.GIB, "/var/lib", 20, host="h", name="vllm-fp8")
    assert message == "profile vllm-fp8 needs 20 GiB free for its weights under /var/lib on h; 5.0 GiB free"
