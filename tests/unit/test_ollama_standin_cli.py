"""The Ollama STAND-IN archive (tests/ollama_standin/build.py) and its CLI, run as processes: the layout the
ollama_service role installs, `ollama serve` with OLLAMA_HOST/OLLAMA_MODELS, and the client commands."""

import json
import os
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
from pathlib import Path

import pytest

BUILD = Path(__file__).resolve().parents[1] / "ollama_standin" / "build.py"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("standin")
    out = subprocess.run(
        [sys.executable, str(BUILD), str(tmp_path / "dist"), "--version", "0.34.9"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    tgz = next(line.split()[1] for line in out.splitlines() if line.endswith(".tgz"))
    with tarfile.open(tgz) as tar:
        names = tar.getnames()
        tar.extractall(tmp_path / "root", filter="data")
    assert "lib/ollama/standin_modelfile.py" not in names  # the project's checker is no longer bundled
    assert {"bin/ollama", "lib/ollama/README-STANDIN", "lib/ollama/standin/rules.py"} <= set(names)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "OLLAMA_HOST": f"127.0.0.1:{port}",
        "OLLAMA_MODELS": str(tmp_path / "models"),
        "OLLAMA_STANDIN_TTFT_MS": "0",
        "OLLAMA_STANDIN_TOKEN_MS": "0",
    }
    binary = tmp_path / "root" / "bin" / "ollama"
    proc = subprocess.Popen([str(binary), "serve"], env=env, stderr=subprocess.PIPE, text=True)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/version", timeout=1)
            break
        except OSError:
            time.sleep(0.05)
    yield binary, env, port, tmp_path
    proc.terminate()
    proc.wait(timeout=10)


def cli(installed, *args, check=True):
    binary, env, _, _ = installed
    return subprocess.run([str(binary), *args], env=env, capture_output=True, text=True, check=check, timeout=60)


def test_cli_round_trip(installed):
    _, _, port, tmp = installed
    assert "ollama version is 0.34.9" in cli(installed, "--version").stdout
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/version") as resp:
        assert resp.headers["X-Ollama-Standin"] == "true" and json.load(resp)["standin"] is True
    assert "success" in cli(installed, "pull", "qwen3:0.6b").stderr
    modelfile = tmp / "Modelfile"
    modelfile.write_text(
        '# c\nFROM qwen3:0.6b\nTEMPLATE """{{ range .Messages }}{{ .Content }}{{ end }}"""\n'
        "PARSER qwen3\nPARAMETER num_ctx 2048\nPARAMETER mirostat 1\n"
    )
    created = cli(installed, "create", "variant", "-f", str(modelfile))
    assert "warning: parameter mirostat is deprecated" in created.stdout and "success" in created.stderr
    shown = cli(installed, "show", "variant", "--modelfile").stdout
    assert "PARSER qwen3" in shown and "PARAMETER num_ctx 2048" in shown
    assert "PARAMETER repeat_penalty 1" in shown  # base PARAMETERs merge (server/create.go setParameters)
    assert json.loads(cli(installed, "show", "variant").stdout)["capabilities"] == ["completion", "tools"]
    assert "variant:latest" in cli(installed, "list").stdout
    assert "deleted 'variant'" in cli(installed, "rm", "variant").stdout


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("FROM qwen3:0.6b\nPARAMETER enable_thinking false\n", "Error: unknown parameter 'enable_thinking'"),
        ("FROM qwen3:0.6b\nINSTRUCTION x\n", "Error: (line 2): command must be one of"),
        ("PARAMETER top_k 20\n", "Error: no FROM line"),
    ],
)
def test_cli_create_reports_modelfile_errors_like_upstream(installed, text, error):
    modelfile = installed[3] / "Modelfile"
    modelfile.write_text(text)
    proc = cli(installed, "create", "x", "-f", str(modelfile), check=False)
    assert proc.returncode != 0 and error in proc.stderr
