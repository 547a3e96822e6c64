"""OLLAMA_* validation for the ollama.service drop-in."""

import pytest
from ansible_collections.qwen3.deploy.plugins.module_utils import ollama_env
from ansible_collections.qwen3.deploy.plugins.module_utils import profile as profiles
from support.paths import CATALOG_FILE


@pytest.mark.parametrize("name", ["ollama-q8_0", "ollama-q4", "ollama-demo"])
def test_catalog_profiles_are_valid(name):
    llm = profiles.resolve(profiles.load_catalog(CATALOG_FILE), name, {})
    assert ollama_env.check({}, llm["ollama"]["env"]) == []


def test_merge_inventory_over_profile_and_host_models():
    env = ollama_env.merge(
        {"OLLAMA_NUM_PARALLEL": 4, "OLLAMA_FLASH_ATTENTION": True, "OLLAMA_KV_CACHE_TYPE": "q8_0"},
        {"OLLAMA_NUM_PARALLEL": "1", "OLLAMA_KEEP_ALIVE": "-1"},
        "127.0.0.1:11434",
        "/srv/ollama/models",
    )
    assert env == {
        "OLLAMA_FLASH_ATTENTION": "1",
        "OLLAMA_HOST": "127.0.0.1:11434",
        "OLLAMA_KEEP_ALIVE": "-1",
        "OLLAMA_KV_CACHE_TYPE": "q8_0",
        "OLLAMA_MODELS": "/srv/ollama/models",
        "OLLAMA_NUM_PARALLEL": "4",
    }
    assert list(env) == sorted(env)


@pytest.mark.parametrize(
    "name",
    [
        "GGML_CUDA_ENABLE_F16C",
        "GGML_CUDA_NMMU_BLOCKS",
        "GGML_CUDA_PEER_MAX_BATCH",
        "num_goroutines",
        "OLLAMA_NUM_GPU",
        "OLLAMA_GPU_LAYERS",
    ],
)
def test_invented_knobs_are_rejected_with_the_valid_names(name):
    (error,) = ollama_env.check({name: "1"})
    assert error.startswith(f"ollama_service_env.{name}: unknown Ollama variable")
    assert "OLLAMA_NUM_PARALLEL" in error and "OLLAMA_KV_CACHE_TYPE" in error
    if name.startswith("GGML_"):
        assert "compile-time" in error


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OLLAMA_NUM_PARALLEL", "two"),
        ("OLLAMA_NUM_PARALLEL", -1),
        ("OLLAMA_MAX_QUEUE", 0),
        ("OLLAMA_KEEP_ALIVE", "5 minutes"),
        ("OLLAMA_LOAD_TIMEOUT", "soon"),
        ("OLLAMA_FLASH_ATTENTION", "yes"),
        ("OLLAMA_KV_CACHE_TYPE", "fp8"),
        ("OLLAMA_CONTEXT_LENGTH", "8k"),
        ("OLLAMA_GPU_OVERHEAD", "1GiB"),
        ("OLLAMA_SCHED_SPREAD", "on"),
        ("OLLAMA_ORIGINS", ""),
        ("OLLAMA_NUM_PARALLEL", [1]),
    ],
)
def test_bad_values_name_the_variable(name, value):
    errors = ollama_env.check({name: value})
    assert errors and errors[0].startswith(f"ollama_service_env.{name}: ")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OLLAMA_KEEP_ALIVE", "5m"),
        ("OLLAMA_KEEP_ALIVE", "-1"),
        ("OLLAMA_KEEP_ALIVE", "24h"),
        ("OLLAMA_KEEP_ALIVE", "1h30m"),
        ("OLLAMA_KEEP_ALIVE", 300),
        ("OLLAMA_LOAD_TIMEOUT", "10m"),
        ("OLLAMA_FLASH_ATTENTION", "true"),
        ("OLLAMA_FLASH_ATTENTION", False),
        ("OLLAMA_SCHED_SPREAD", "1"),
        ("OLLAMA_GPU_OVERHEAD", 536870912),
        ("OLLAMA_ORIGINS", "http://a.example,https://b.example"),
        ("OLLAMA_LLM_LIBRARY", "cuda_v12"),
        ("OLLAMA_DEBUG", "2"),
        ("CUDA_VISIBLE_DEVICES", "0,1"),
        ("OLLAMA_CONTEXT_LENGTH", 32768),
        ("OLLAMA_MAX_LOADED_MODELS", "0"),
    ],
)
def test_good_values(name, value):
    assert ollama_env.check({name: value}) == []


def test_quantized_kv_cache_needs_flash_attention():
    (error,) = ollama_env.check({"OLLAMA_KV_CACHE_TYPE": "q8_0"})
    assert error.startswith("ollama_service_env.OLLAMA_KV_CACHE_TYPE: q8_0 needs flash attention")
    (error,) = ollama_env.check({}, {"OLLAMA_KV_CACHE_TYPE": "q4_0", "OLLAMA_FLASH_ATTENTION": "0"})
    assert error.startswith("llm_profile_overrides.ollama.env.OLLAMA_KV_CACHE_TYPE: q4_0")
    assert ollama_env.check({"OLLAMA_FLASH_ATTENTION": "1"}, {"OLLAMA_KV_CACHE_TYPE": "q4_0"}) == []
    assert ollama_env.check({"OLLAMA_KV_CACHE_TYPE": "f16"}) == []


def test_host_and_models_have_their_own_variables():
    errors = ollama_env.check({"OLLAMA_HOST": "0.0.0.0:11434", "OLLAMA_MODELS": "/x"})
    assert errors == [
        "ollama_service_env.OLLAMA_HOST: set ollama_service_host instead of putting OLLAMA_HOST in ollama_service_env",
        "ollama_service_env.OLLAMA_MODELS: set ollama_service_models_dir instead of putting OLLAMA_MODELS in "
        "ollama_service_env",
    ]


@pytest.mark.parametrize(
    "host", ["127.0.0.1:11434", "0.0.0.0:11434", "http://10.0.0.5:11434", "[::1]:11434", "ollama.internal:8080"]
)
def test_good_hosts(host):
    assert ollama_env.check({}, None, host) == []


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.1:0", "127.0.0.1:99999", "ftp://h:1", "bad host:1", ""])
def test_bad_hosts(host):
    (error,) = ollama_env.check({}, None, host)
    assert error.startswith("ollama_service_host: ")


def test_models_dir_must_be_absolute():
    (error,) = ollama_env.check({}, None, "127.0.0.1:11434", "models")
    assert error.startswith("ollama_service_models_dir: must be an absolute path")


def test_not_a_mapping():
    assert ollama_env.check(["OLLAMA_DEBUG=1"])[0].startswith("ollama_service_env: must be a mapping")


def test_merge_raises_with_every_error():
    with pytest.raises(ollama_env.OllamaEnvError) as info:
        ollama_env.merge({"GGML_CUDA_NMMU_BLOCKS": 1, "OLLAMA_NUM_PARALLEL": "x"})
    assert "GGML_CUDA_NMMU_BLOCKS" in str(info.value) and "OLLAMA_NUM_PARALLEL" in str(info.value)


def test_drop_in_environment_is_quoted_for_systemd():
    from ansible_collections.qwen3.deploy.plugins.module_utils import systemd

    assert systemd.environment({"OLLAMA_ORIGINS": 'a%b"c\\d', "OLLAMA_HOST": "127.0.0.1:1"}) == [
        "OLLAMA_HOST=127.0.0.1:1",
        '"OLLAMA_ORIGINS=a%%b\\"c\\\\d"',
    ]


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1:11434", "http://127.0.0.1:11434"),
        ("0.0.0.0:11434", "http://127.0.0.1:11434"),
        ("https://h.example:443/", "https://h.example:443"),
    ],
)
def test_base_url(host, url):
    assert ollama_env.base_url(host) == url


def test_filter_plugin_wraps_the_module():
    from ansible.errors import AnsibleFilterError
    from ansible_collections.qwen3.deploy.plugins.filter import ollama as ollama_filters

    filters = ollama_filters.FilterModule().filters()
    with pytest.raises(AnsibleFilterError, match=r"ollama_service_env\.OLLAMA_KV_CACHE_TYPE"):
        filters["ollama_env"]({"OLLAMA_KV_CACHE_TYPE": "q4_0"}, {}, "127.0.0.1:11434", "/m")
    with pytest.raises(AnsibleFilterError, match="enable_thinking"):
        filters["ollama_modelfile"]("qwen3:14b", {"enable_thinking": False})
