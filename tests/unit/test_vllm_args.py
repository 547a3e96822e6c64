"""The `vllm serve` command lines rendered for the catalog profiles, checked flag by flag and against
the saved `vllm serve --help=all` of the pinned version (tests/fixtures/vllm-0.32.0-serve-help.txt)."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from ansible_collections.qwen3.deploy.plugins.module_utils import profile as profiles
from ansible_collections.qwen3.deploy.plugins.module_utils import vllm_args
from ansible_collections.qwen3.deploy.plugins.module_utils.systemd import UnitValueError
from ansible_collections.qwen3.deploy.plugins.module_utils.systemd import environment as systemd_environment
from ansible_collections.qwen3.deploy.plugins.module_utils.systemd import exec_line as systemd_exec
from ansible_collections.qwen3.deploy.plugins.module_utils.systemd import quote as systemd_quote
from ansible_collections.qwen3.deploy.plugins.module_utils.vllm_args import VllmArgsError, build_argv, build_env
from support.paths import CATALOG_FILE

HELP = Path(__file__).resolve().parents[1] / "fixtures" / "vllm-0.32.0-serve-help.txt"
VENV = "/opt/qwen3-deploy/vllm"
MODELS = "/var/lib/qwen3-deploy/models"
GPTQ_REVISION = {"model": {"revision": "0" * 40}}  # the catalog makes the operator pin it


def help_flags():
    """Every option string `vllm serve --help=all` of 0.32.0 lists (including --no-* forms)."""
    flags = set()
    for line in HELP.read_text(encoding="utf-8").splitlines():
        if re.match(r"^\s{2}-", line):
            flags.update(re.findall(r"(?<![\w-])--[a-z0-9][a-z0-9-]*", line))
    return flags


def resolved(name, overrides=None):
    return profiles.resolve(profiles.load_catalog(CATALOG_FILE), name, overrides)


def render(name, overrides=None, **options):
    options.setdefault("venv", VENV)
    options.setdefault("models_dir", MODELS)
    return build_argv(resolved(name, overrides), **options)


def as_pairs(argv):
    """argv after `serve MODEL` -> [(flag, value or None)] in order."""
    pairs, words = [], argv[3:]
    index = 0
    while index < len(words):
        flag = words[index]
        assert flag.startswith("--"), f"stray word {flag!r} in {argv}"
        if index + 1 < len(words) and not words[index + 1].startswith("--"):
            pairs.append((flag, words[index + 1]))
            index += 2
        else:
            pairs.append((flag, None))
            index += 1
    return pairs


THINKING_OFF = ("--default-chat-template-kwargs", '{"enable_thinking": false}')


def expected_pairs(llm):
    """The flags every profile gets, with the values of its catalog entry (the catalog is the lead's data)."""
    return [
        ("--host", "127.0.0.1"),
        ("--port", "8000"),
        ("--served-model-name", llm["served_model_name"]),
        ("--max-model-len", str(llm["max_model_len"])),
        ("--max-num-seqs", str(llm["max_num_seqs"])),
        ("--tensor-parallel-size", str(llm["tensor_parallel_size"])),
        ("--gpu-memory-utilization", str(llm["gpu_memory_utilization"])),
        ("--reasoning-parser", "qwen3"),
        THINKING_OFF,
    ]


def gpu_expected(name, overrides=None):
    llm = resolved(name, overrides)
    assert llm["accelerator"] == "nvidia"
    assert llm["vllm"]["package"] == "vllm"
    assert llm["vllm"]["version"] == "0.32.0", "GPU profiles pin the version whose --help is saved"
    extra = vllm_args.args_to_argv(llm["vllm"]["args"], "llm.vllm.args")
    return expected_pairs(llm) + as_pairs(["", "", "", *extra])


def test_help_fixture_is_the_pinned_version():
    text = HELP.read_text(encoding="utf-8")
    assert text.startswith("usage: vllm serve")
    assert len(help_flags()) > 300


def test_vllm_fp8_command_line():
    argv = render("vllm-fp8")
    assert argv[:3] == [f"{VENV}/bin/vllm", "serve", f"{MODELS}/Qwen3-14B-FP8"]
    assert as_pairs(argv) == gpu_expected("vllm-fp8")
    assert dict(as_pairs(argv))["--served-model-name"] == "qwen3-14b"
    assert "--quantization" not in argv  # fp8 comes from the checkpoint's quantization_config


def test_vllm_awq_command_line():
    argv = render("vllm-awq")
    assert argv[2] == f"{MODELS}/Qwen3-14B-AWQ"
    assert as_pairs(argv) == gpu_expected("vllm-awq")
    assert "--quantization" not in argv


def test_vllm_gptq_int4_command_line():
    argv = render("vllm-gptq-int4", GPTQ_REVISION)
    assert argv[2] == f"{MODELS}/Qwen3-14B-GPTQ-Int4"
    assert as_pairs(argv) == gpu_expected("vllm-gptq-int4", GPTQ_REVISION)
    assert "--quantization" not in argv


def test_cpu_demo_command_line():
    argv = render("cpu-demo")
    assert argv[:3] == [f"{VENV}/bin/vllm", "serve", f"{MODELS}/tiny-qwen3"]
    llm = resolved("cpu-demo")
    assert (llm["served_model_name"], llm["tensor_parallel_size"]) == ("qwen3-demo", 1)
    assert as_pairs(argv) == [*expected_pairs(llm), ("--dtype", "bfloat16"), ("--enforce-eager", None),
                              ("--override-generation-config", '{"max_new_tokens": 1024}')]
    assert build_env(resolved("cpu-demo")) == {"VLLM_CPU_KVCACHE_SPACE": "1"}


@pytest.mark.parametrize(
    ("name", "overrides"),
    [("vllm-fp8", None), ("vllm-awq", None), ("vllm-gptq-int4", GPTQ_REVISION), ("cpu-demo", None)],
)
def test_every_rendered_flag_exists_in_the_pinned_help(name, overrides):
    known = help_flags()
    extra = {"enable-prefix-caching": False, "enable-chunked-prefill": True, "api-server-count": 1}
    for options in ({}, {"enable_thinking": True}, {"extra_args": extra}):
        flags = vllm_args.flag_words(render(name, overrides, **options))
        unknown = [flag for flag in flags if flag not in known]
        assert not unknown, f"{name}: flags not in vllm 0.32.0 --help=all: {unknown}"


def test_every_catalog_vllm_profile_renders_known_flags():
    catalog = profiles.load_catalog(CATALOG_FILE)
    known = help_flags()
    for name, entry in catalog.items():
        if entry["engine"] != "vllm":
            continue
        overrides = GPTQ_REVISION if not entry["model"]["revision"] and entry["model"]["source"] == "hf" else None
        flags = vllm_args.flag_words(render(name, overrides))
        assert set(flags) <= known, name


def test_thinking_on_drops_the_default_kwargs_but_keeps_the_parser():
    argv = render("vllm-fp8", enable_thinking=True)
    assert "--default-chat-template-kwargs" not in argv
    assert argv[argv.index("--reasoning-parser") + 1] == "qwen3"


def test_forced_quantization_is_passed():
    argv = render("vllm-awq", {"force_quantization": True})
    assert argv[argv.index("--quantization") + 1] == "awq"
    assert "--quantization" in help_flags()


def test_host_port_and_extra_args_override_profile_args():
    argv = render(
        "cpu-demo",
        host="0.0.0.0",
        port=8001,
        extra_args={"dtype": "float32", "enforce_eager": None, "enable-prefix-caching": False, "api-server-count": 2},
    )
    pairs = dict(as_pairs(argv))
    assert pairs["--host"] == "0.0.0.0"
    assert pairs["--port"] == "8001"
    assert pairs["--dtype"] == "float32"
    assert "--enforce-eager" not in pairs
    assert "--no-enable-prefix-caching" in pairs
    assert pairs["--api-server-count"] == "2"


def test_list_and_mapping_values():
    argv = vllm_args.args_to_argv({"allowed-origins": ["a", "b"], "override-generation-config": {"top_k": 20}}, "x")
    assert argv == ["--allowed-origins", "a", "b", "--override-generation-config", '{"top_k": 20}']


@pytest.mark.parametrize(
    ("overrides", "options", "needle"),
    [
        ({"max_model_len": 0}, {}, "llm_profile_overrides.max_model_len"),
        ({}, {"port": 70000}, "vllm_service_port"),
        ({}, {"port": "8000"}, "vllm_service_port"),
        ({}, {"host": ""}, "vllm_service_host"),
        ({}, {"enable_thinking": "no"}, "vllm_service_enable_thinking"),
        ({}, {"extra_args": {"api-key": "secret"}}, "vllm_service_api_key"),
        ({}, {"extra_args": {"port": 1}}, "vllm_service_port"),
        ({}, {"extra_args": {"bad flag": 1}}, "vllm_service_extra_args"),
        ({}, {"extra_args": {"x": {1, 2}}}, "vllm_service_extra_args.x"),
        ({}, {"extra_args": ["--x"]}, "vllm_service_extra_args"),
        ({}, {"venv": "relative/venv"}, "vllm_service_venv"),
        ({"tensor_parallel_size": 2}, {}, "tensor_parallel_size"),
        ({"force_quantization": True}, {}, "llm.force_quantization"),
    ],
)
def test_bad_values_name_the_variable(overrides, options, needle):
    with pytest.raises((VllmArgsError, profiles.ProfileError), match=re.escape(needle)):
        render("cpu-demo", overrides, **options)


def test_direct_llm_validation_names_llm_fields():
    llm = resolved("vllm-fp8")
    for field, value, needle in [
        ("max_num_seqs", True, "llm.max_num_seqs"),
        ("gpu_memory_utilization", 1.5, "llm.gpu_memory_utilization"),
        ("served_model_name", "two words", "llm.served_model_name"),
        ("engine", "ollama", "llm.engine"),
        ("force_quantization", "yes", "llm.force_quantization"),
    ]:
        with pytest.raises(VllmArgsError, match=re.escape(needle)):
            if field == "engine":
                build_argv({**llm, field: value}, venv=VENV, models_dir=MODELS)
            else:
                vllm_args.profile_flags({**llm, field: value})
    cpu = resolved("cpu-demo")
    with pytest.raises(VllmArgsError, match=re.escape("llm.tensor_parallel_size must be 1")):
        vllm_args.profile_flags({**cpu, "tensor_parallel_size": 2})
    with pytest.raises(VllmArgsError, match=re.escape("llm.model.name")):
        build_argv({**llm, "model": {**llm["model"], "name": "../etc"}}, venv=VENV, models_dir=MODELS)
    with pytest.raises(VllmArgsError, match=re.escape("llm.quantization is 'none'")):
        vllm_args.profile_flags({**llm, "quantization": "none", "force_quantization": True})


def test_env_merge_and_secrets_refused():
    llm = resolved("cpu-demo")
    env = build_env(llm, extra_env={"VLLM_LOGGING_LEVEL": "DEBUG", "VLLM_CPU_KVCACHE_SPACE": 2, "X": None})
    assert env == {"VLLM_CPU_KVCACHE_SPACE": "2", "VLLM_LOGGING_LEVEL": "DEBUG"}
    with pytest.raises(VllmArgsError, match="vllm_service_api_key"):
        build_env(llm, extra_env={"VLLM_API_KEY": "k"})
    with pytest.raises(VllmArgsError, match="vllm_service_extra_env"):
        build_env(llm, extra_env={"1BAD": "x"})


def systemd_split(line):
    """Stand-in for systemd's ExecStart= word splitting (double quotes, C escapes, %%, $$) for these tests."""
    words = shlex.split(line.replace("%%", "%").replace("$$", "$"), posix=True)
    return words


def test_systemd_exec_round_trips_the_json_argument():
    argv = render("cpu-demo")
    line = systemd_exec(argv)
    assert '"{\\"enable_thinking\\": false}"' in line
    assert systemd_split(line) == argv
    assert json.loads(systemd_split(line)[argv.index("--default-chat-template-kwargs") + 1]) == {
        "enable_thinking": False
    }


def test_systemd_quote_escapes_specifiers_and_variables():
    assert systemd_quote("plain/path-1.0") == "plain/path-1.0"
    assert systemd_quote("50%") == "50%%"
    assert systemd_quote("$HOME") == '"$$HOME"'
    assert systemd_quote("$HOME", exec_line=False) == '"$HOME"'
    assert systemd_quote('a "b" \\c') == '"a \\"b\\" \\\\c"'
    assert systemd_quote("") == '""'
    with pytest.raises(UnitValueError):
        systemd_quote("a\nb")
    assert systemd_environment({"B": "x y", "A": "1"}) == ["A=1", '"B=x y"']


def render_unit_template(unit):
    """Render templates/systemd_unit.j2 the way Ansible's template module does (trim_blocks), with a
    stand-in for Ansible's `comment` filter."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).resolve().parents[2] / "templates")),
        trim_blocks=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["comment"] = lambda text: f"#\n# {text}\n#"
    return env.get_template("systemd_unit.j2").render(
        systemd_unit=unit, ansible_managed="Ansible managed", role_name="vllm_service"
    )


def test_systemd_unit_template_renders_any_unit_from_a_dict():
    argv = render("cpu-demo")
    text = render_unit_template(
        {
            "Unit": {"Description": "x", "After": ["a.target", "b.target"], "Skip": None},
            "Service": {
                "ExecStart": systemd_exec(argv),
                "Environment": systemd_environment({"A": "1", "B": "x y"}),
                "NoNewPrivileges": True,
                "PrivateDevices": False,
                "RestartSec": 5,
            },
            "Install": {"WantedBy": ["multi-user.target"]},
        }
    )
    lines = text.splitlines()
    assert lines[:4] == ["#", "# Ansible managed", "#", "# role: vllm_service"]
    sections = [line for line in lines if line.startswith("[")]
    assert sections == ["[Unit]", "[Service]", "[Install]"]
    assert "After=a.target" in lines and "After=b.target" in lines
    assert not any(line.startswith("Skip=") for line in lines)
    assert 'Environment="B=x y"' in lines and "Environment=A=1" in lines
    assert "NoNewPrivileges=yes" in lines and "PrivateDevices=no" in lines and "RestartSec=5" in lines
    exec_line = next(line for line in lines if line.startswith("ExecStart="))
    assert systemd_split(exec_line.removeprefix("ExecStart=")) == argv
