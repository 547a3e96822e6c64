"""Deployed host state, checked from outside with pytest-testinfra (see conftest.py for how to run).

Parametrized by engine: each engine's checks run on hosts whose profile uses it and are skipped elsewhere,
plus checks that the retired engine is really down. Paths, units and ports: docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import shlex

import pytest

ENGINES = ("vllm", "ollama")
UNITS = {"vllm": "qwen3-vllm.service", "ollama": "ollama.service"}
WEBUI_UNIT = "qwen3-open-webui.service"
SECRETS_DIR = "/etc/qwen3-deploy"


def _only(expect, engine):
    if expect["engine"] != engine:
        pytest.skip(f"profile engine is {expect['engine']}, not {engine}")


def _listeners(host, port):
    """Local addresses with a TCP listener on ``port`` (from ss)."""
    out = host.check_output(f"ss -Htln 'sport = :{port}'")
    addrs = set()
    for line in out.splitlines():
        local = line.split()[3]
        addrs.add(local.rsplit(":", 1)[0].strip("[]"))
    return addrs


def _exec_start_argv(host, unit):
    """argv of the unit's ExecStart, from systemctl show (what systemd really runs)."""
    out = host.check_output(f"systemctl show -p ExecStart --value {unit}")
    # format: { path=/x ; argv[]=/x --a b ; ignore_errors=no ; ... }; systemd prints argv unquoted, so a
    # value with spaces (JSON) spans several words: such values are checked as substrings below.
    start = out.find("argv[]=")
    end = out.find(" ;", start)
    return out[start + len("argv[]="):end].split()


def _environment(host, unit):
    out = host.check_output(f"systemctl show -p Environment --value {unit}")
    env = {}
    for item in shlex.split(out):
        key, _, value = item.partition("=")
        env[key] = value
    return env


@pytest.mark.parametrize("engine", ENGINES)
def test_engine_service_enabled_and_active(host, expect, engine):
    _only(expect, engine)
    svc = host.service(UNITS[engine].removesuffix(".service"))
    assert svc.is_enabled, f"{UNITS[engine]} not enabled"
    assert svc.is_running, f"{UNITS[engine]} not active"


@pytest.mark.parametrize("engine", ENGINES)
def test_retired_engine_is_down(host, expect, engine):
    if expect["engine"] == engine:
        pytest.skip(f"{engine} is the profile's engine")
    state = host.run(f"systemctl is-active {UNITS[engine]}").stdout.strip()
    assert state != "active", f"{UNITS[engine]} still running although the profile uses {expect['engine']}"


@pytest.mark.parametrize("engine", ENGINES)
def test_engine_port_bound_as_configured(host, expect, engine):
    _only(expect, engine)
    port, bind = expect[f"{engine}_port"], expect[f"{engine}_host"]
    addrs = _listeners(host, port)
    assert addrs, f"nothing listens on port {port}"
    assert addrs <= {bind}, f"port {port} bound on {sorted(addrs)}, expected only {bind}"


def test_vllm_unit_flags_as_rendered(host, expect, llm):
    _only(expect, "vllm")
    argv = _exec_start_argv(host, UNITS["vllm"])
    joined = " ".join(argv)

    def value(flag):
        for i, arg in enumerate(argv):
            if arg == flag and i + 1 < len(argv):
                return argv[i + 1]
            if arg.startswith(flag + "="):
                return arg.split("=", 1)[1]
        return None

    assert "serve" in argv, joined
    assert value("--served-model-name") == llm["served_model_name"], joined
    assert value("--max-model-len") == str(llm["max_model_len"]), joined
    assert value("--host") == expect["vllm_host"], joined
    assert value("--port") == str(expect["vllm_port"]), joined
    assert value("--reasoning-parser") == "qwen3", joined
    for name, val in llm["vllm"]["args"].items():
        flag = f"--{name}"
        if val is True:
            assert flag in argv, f"{flag} missing: {joined}"
        elif val is False or val is None:
            continue
        elif " " in str(val):
            assert f"{flag} {val}" in joined, f"{flag}: {joined}"
        else:
            assert value(flag) == str(val), f"{flag}: {joined}"
    if expect["vllm_api_key"]:
        assert expect["vllm_api_key"] not in joined, "the API key is on the command line (visible in ps)"


def test_vllm_environment_as_rendered(host, expect, llm):
    _only(expect, "vllm")
    env = _environment(host, UNITS["vllm"])
    for key, val in llm["vllm"]["env"].items():
        assert env.get(key) == str(val), f"{key}={env.get(key)!r}, profile says {val!r}"


def test_ollama_dropin_environment_as_rendered(host, expect, llm):
    _only(expect, "ollama")
    dropins = host.check_output("ls /etc/systemd/system/ollama.service.d/ 2>/dev/null || true").split()
    assert any(name.endswith(".conf") for name in dropins), "no drop-in under ollama.service.d"
    env = _environment(host, UNITS["ollama"])
    host_port = f"{expect['ollama_host']}:{expect['ollama_port']}"
    assert env.get("OLLAMA_HOST") in (host_port, f"http://{host_port}"), env
    for key, val in llm["ollama"]["env"].items():
        assert env.get(key) == str(val), f"{key}={env.get(key)!r}, profile says {val!r}"


def test_webui_service_and_port(host, expect):
    if not expect["webui_enabled"]:
        pytest.skip("open_webui_enabled is false")
    svc = host.service(WEBUI_UNIT.removesuffix(".service"))
    assert svc.is_enabled and svc.is_running, f"{WEBUI_UNIT} not enabled and active"
    addrs = _listeners(host, expect["webui_port"])
    assert addrs, f"nothing listens on port {expect['webui_port']}"
    assert addrs <= {expect["webui_host"]}, f"port {expect['webui_port']} bound on {sorted(addrs)}"


def test_secret_files_are_private(host):
    d = host.file(SECRETS_DIR)
    assert d.is_directory, f"{SECRETS_DIR} missing"
    assert d.user == "root" and d.mode & 0o007 == 0, f"{SECRETS_DIR} mode {oct(d.mode)}"
    names = host.check_output(f"find {SECRETS_DIR} -maxdepth 1 -type f -name '*.env'").split()
    assert names, f"no *.env under {SECRETS_DIR}"
    for name in names:
        f = host.file(name)
        assert f.user == "root" and f.mode == 0o600, f"{name}: owner {f.user}, mode {oct(f.mode)}"


def test_weights_present(host, expect, llm):
    if llm["model"]["source"] == "ollama":
        out = host.check_output("ollama list")
        assert llm["served_model_name"].split(":")[0] in out, out
        return
    d = f"{expect['models_dir']}/{llm['model']['name']}"
    assert host.file(f"{d}/config.json").exists, f"{d}/config.json missing"
    found = host.run(f"find {d} -maxdepth 1 -name '*.safetensors' -size +0").stdout.split()
    assert found, f"no non-empty *.safetensors in {d}"
