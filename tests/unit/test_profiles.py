"""Profile catalog resolution and validation: every error names the variable to fix."""

import pytest
from ansible_collections.qwen3.deploy.plugins.module_utils import profile as profiles
from support.paths import CATALOG_FILE

CATALOG = profiles.load_catalog(CATALOG_FILE)
NEEDS_OPERATOR_PIN = {"vllm-gptq-int4"}
REQUIRED = {"cpu-demo", "vllm-fp8", "vllm-awq", "vllm-gptq-int4", "vllm-1.7b-fp8", "ollama-q8_0", "ollama-q4"}


def test_catalog_has_the_promised_profiles_and_each_validates():
    assert REQUIRED <= set(CATALOG)
    for name in CATALOG:
        overrides = {"model": {"revision": "0" * 40}} if name in NEEDS_OPERATOR_PIN else {}
        resolved = profiles.resolve(CATALOG, name, overrides)
        assert resolved["name"] == name


def test_community_checkpoint_refuses_until_the_operator_pins_it():
    with pytest.raises(profiles.ProfileError, match=r"llm_profile \(vllm-gptq-int4\) field model.revision: pin"):
        profiles.resolve(CATALOG, "vllm-gptq-int4")


def test_every_profile_has_the_same_fields():
    shapes = {name: sorted(entry) for name, entry in CATALOG.items()}
    assert len({tuple(v) for v in shapes.values()}) == 1, shapes


def test_gpu_profiles_pin_a_real_repo():
    for name in ("vllm-fp8", "vllm-awq", "vllm-gptq-int4", "vllm-1.7b-fp8"):
        model = CATALOG[name]["model"]
        assert model["source"] == "hf" and "/" in model["repo_id"]
        assert name in NEEDS_OPERATOR_PIN or len(model["revision"]) == 40
    assert CATALOG["vllm-fp8"]["model"]["repo_id"] == "Qwen/Qwen3-14B-FP8"
    assert CATALOG["ollama-q8_0"]["model"]["tag"] == "qwen3:14b-q8_0"
    assert CATALOG["ollama-q4"]["model"]["tag"] == "qwen3:14b"


def test_overrides_are_deep_merged():
    resolved = profiles.resolve(
        CATALOG, "vllm-fp8", {"max_model_len": 8192, "vllm": {"args": {"enforce-eager": True}}, "thresholds": {"ttft_p95_ms": 99}}
    )
    assert resolved["max_model_len"] == 8192
    assert resolved["vllm"]["args"] == {"enforce-eager": True}
    assert resolved["thresholds"]["ttft_p95_ms"] == 99
    assert resolved["thresholds"]["min_decode_tokens_per_s"] == CATALOG["vllm-fp8"]["thresholds"]["min_decode_tokens_per_s"]
    assert CATALOG["vllm-fp8"]["vllm"]["args"] == {}, "the catalog itself must not be mutated"


def test_numeric_strings_from_extra_vars_are_accepted():
    resolved = profiles.resolve(CATALOG, "cpu-demo", {"max_model_len": "1024", "gpu_memory_utilization": "0.5"})
    assert resolved["max_model_len"] == 1024 and resolved["gpu_memory_utilization"] == 0.5


@pytest.mark.parametrize(
    ("name", "overrides", "message"),
    [
        ("nope", {}, "llm_profile: unknown profile 'nope'"),
        (None, {}, "llm_profile: unknown profile None"),
        ("vllm-fp8", {"gpu_memory_utilization": 1.5}, "llm_profile_overrides.gpu_memory_utilization: must be in (0, 1]"),
        ("vllm-fp8", {"gpu_memory_utilization": 0}, "llm_profile_overrides.gpu_memory_utilization: must be in (0, 1]"),
        ("vllm-fp8", {"gpu_memory_utilization": "lots"}, "llm_profile_overrides.gpu_memory_utilization: must be a number"),
        ("vllm-fp8", {"max_model_len": 0}, "llm_profile_overrides.max_model_len: must be > 0"),
        ("vllm-fp8", {"max_model_len": -5}, "llm_profile_overrides.max_model_len: must be > 0"),
        ("vllm-fp8", {"max_model_len": 1.5}, "llm_profile_overrides.max_model_len: must be an integer"),
        ("vllm-fp8", {"tensor_parallel_size": 0}, "llm_profile_overrides.tensor_parallel_size: must be >= 1"),
        ("cpu-demo", {"tensor_parallel_size": 2}, "llm_profile_overrides.tensor_parallel_size: the CPU build"),
        ("vllm-fp8", {"max_num_seqs": 0}, "llm_profile_overrides.max_num_seqs: must be >= 1"),
        ("vllm-fp8", {"max_modle_len": 4096}, "llm_profile_overrides.max_modle_len: unknown field"),
        ("vllm-fp8", {"model": {"revison": "abc"}}, "llm_profile_overrides.model.revison: unknown field"),
        ("vllm-fp8", {"model": "Qwen/Qwen3-14B"}, "llm_profile_overrides.model: must be a mapping"),
        ("vllm-fp8", {"engine": "tgi"}, "llm_profile_overrides.engine: 'tgi' is not one of vllm, ollama"),
        ("vllm-fp8", {"model": {"source": "ollama"}}, "llm_profile_overrides.model.source: 'ollama' does not fit"),
        ("vllm-fp8", {"model": {"revision": ""}}, "llm_profile_overrides.model.revision: pin the 40-character"),
        ("vllm-fp8", {"model": {"revision": "main"}}, "a branch such as main moves"),
        ("vllm-fp8", {"model": {"repo_id": "nope"}}, "llm_profile_overrides.model.repo_id: required"),
        ("vllm-fp8", {"quantization": "fp4"}, "llm_profile_overrides.quantization"),
        ("vllm-fp8", {"vllm": {"args": {"--max-num-seqs": 4}}}, "llm_profile_overrides.vllm.args: flag name"),
        ("vllm-fp8", {"thresholds": {"ttft_p95_ms": -1}}, "llm_profile_overrides.thresholds.ttft_p95_ms: must be >= 0"),
        ("vllm-fp8", {"thresholds": {"max_tokens_per_event": 0}}, "llm_profile_overrides.thresholds.max_tokens_per_event"),
        ("vllm-fp8", {"force_quantization": "yes"}, "llm_profile_overrides.force_quantization: must be true or false"),
        ("vllm-fp8", {"served_model_name": "a b"}, "llm_profile_overrides.served_model_name"),
        ("vllm-fp8", ["max_model_len"], "llm_profile_overrides: must be a mapping"),
        ("ollama-q4", {"served_model_name": "qwen3:14b"}, "llm_profile_overrides.served_model_name: Ollama serves"),
    ],
)
def test_bad_input_names_the_variable(name, overrides, message):
    with pytest.raises(profiles.ProfileError) as error:
        profiles.resolve(CATALOG, name, overrides)
    assert message in str(error.value)


def test_open_mappings_accept_new_keys():
    resolved = profiles.resolve(CATALOG, "ollama-q4", {"ollama": {"env": {"OLLAMA_MAX_QUEUE": "64"}}})
    assert resolved["ollama"]["env"]["OLLAMA_MAX_QUEUE"] == "64"
