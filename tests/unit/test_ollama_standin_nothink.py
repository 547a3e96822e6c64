"""Our non-thinking Qwen3 Modelfile under upstream Ollama's rules, as the Ollama STAND-IN implements them.

The stand-in (tests/ollama_standin, NOT the real Ollama) ports upstream's capability inference, template selection,
`create FROM` inheritance and `think` defaulting (ollama/ollama v0.33.0-rc2; see test_ollama_standin.py for
upstream's own cases run against it). Here the model is created exactly as `ollama create -f` would from the
Modelfile modelfile.render() writes, from a pulled qwen3 base that, like the real registry tag, has a GGUF chat
template with think tags. Requests that leave `think` out must get no thinking on /api/chat, /api/generate and
/v1/chat/completions, and asking for thinking must get HTTP 400.

NEGATIVE CONTROL: the Modelfile the project rendered before (commit 681926d: a TEMPLATE with `.Thinking`, no
PARSER) must fail the same checks (test_negative_control_*): it proves the checks can see thinking.
"""

import json
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest
from ansible_collections.qwen3.deploy.plugins.module_utils import modelfile
from ollama_standin import harness
from ollama_standin.standin import store
from support import ollama_thinking

REPO = Path(__file__).resolve().parents[2]
PREVIOUS_COMMIT = "681926d"
MODELFILE_PY = "collections/ansible_collections/qwen3/deploy/plugins/module_utils/modelfile.py"
# The TEMPLATE of commit 681926d, kept as test data (golden/cases.json "qwen3_nothink_previous").
PREVIOUS_TEMPLATE = json.loads((REPO / "tests/ollama_standin/golden/cases.json").read_text())["templates"][
    "qwen3_nothink_previous"
]
BASE = "qwen3:0.6b"
PARAMS = {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "min_p": 0, "num_ctx": 2048}
HI = [{"role": "user", "content": "hi"}]


def current_modelfile() -> str:
    return modelfile.render(BASE, PARAMS, header="managed\nrole: ollama_service")


def previous_modelfile() -> str:
    """What commit 681926d's render() wrote: FROM, the .Thinking TEMPLATE, PARAMETERs, no PARSER."""
    return modelfile.render(BASE, PARAMS, template=PREVIOUS_TEMPLATE, parser=None)


@pytest.fixture
def standin(tmp_path, monkeypatch):
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "models"))
    for var in (
        "OLLAMA_GO_TEMPLATE",
        "OLLAMA_STANDIN_BASE_PARSER",
        "OLLAMA_STANDIN_BASE_RENDERER",
        "OLLAMA_STANDIN_BASE_CHAT_TEMPLATE",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("OLLAMA_STANDIN_TTFT_MS", "0")
    monkeypatch.setenv("OLLAMA_STANDIN_TOKEN_MS", "0")
    with harness.running_server() as url:
        assert harness.request(url, "/api/pull", {"model": BASE, "stream": False})[0] == 200
        yield url


def create(url: str, name: str, text: str) -> str:
    status, body = harness.create(url, name, text)
    assert status == 200, body
    return name


def thinking_of(api: str, status: int, body) -> tuple[str, str]:
    """(thinking, content) of a reply (a JSON object or a list of stream documents)."""
    docs = body if isinstance(body, list) else [body]
    return ollama_thinking.texts(api, docs)


def omit_think_requests(name: str) -> dict:
    return {
        "api/chat": ("/api/chat", {"model": name, "messages": HI, "stream": False}),
        "api/chat stream": ("/api/chat", {"model": name, "messages": HI}),
        "api/chat think null": ("/api/chat", {"model": name, "messages": HI, "stream": False, "think": None}),
        "api/generate": ("/api/generate", {"model": name, "prompt": "hi", "stream": False}),
        "api/generate stream": ("/api/generate", {"model": name, "prompt": "hi"}),
        "v1/chat/completions": ("/v1/chat/completions", {"model": name, "messages": HI}),
        "v1/chat/completions stream": ("/v1/chat/completions", {"model": name, "messages": HI, "stream": True}),
    }


def test_base_model_is_thinking_capable_like_the_registry_tag(standin):
    # the premise of the whole issue: a pulled qwen3 base thinks by default
    _, show = harness.request(standin, "/api/show", {"model": BASE})
    assert "thinking" in show["capabilities"]
    status, body = harness.request(standin, "/api/chat", {"model": BASE, "messages": HI, "stream": False})
    assert status == 200 and body["message"].get("thinking")


@pytest.mark.parametrize("go_template_env", ["", "0", "1"])
def test_rendered_modelfile_is_not_thinking_capable(standin, monkeypatch, go_template_env):
    monkeypatch.setenv("OLLAMA_GO_TEMPLATE", go_template_env)
    name = create(standin, "qwen3-nothink", current_modelfile())
    status, show = harness.request(standin, "/api/show", {"model": name})
    assert status == 200
    assert sorted(show["capabilities"]) == ["completion", "tools"]
    assert "PARSER qwen3" in show["modelfile"]


@pytest.mark.parametrize("api", list(omit_think_requests("x")))
def test_requests_without_think_get_no_thinking(standin, api):
    name = create(standin, "qwen3-nothink", current_modelfile())
    path, body = omit_think_requests(name)[api]
    status, reply = harness.request(standin, path, body)
    assert status == 200, reply
    thinking, content = thinking_of(api, status, reply)
    assert thinking == ""
    assert content and "<think>" not in content and "</think>" not in content


def test_rendered_prompt_always_ends_with_the_empty_think_block(standin):
    name = create(standin, "qwen3-nothink", current_modelfile())
    for extra in ({}, {"think": False}):
        body = {"model": name, "messages": HI, "stream": False, "_debug_render_only": True, **extra}
        _, reply = harness.request(standin, "/api/chat", body)
        assert reply["_debug_info"]["rendered_template"].endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")


@pytest.mark.parametrize(
    ("path", "extra"),
    [("/api/chat", {"think": True}), ("/api/chat", {"think": "high"}), ("/api/generate", {"think": True})],
)
def test_asking_for_thinking_is_refused(standin, path, extra):
    name = create(standin, "qwen3-nothink", current_modelfile())
    body = {"model": name, "messages": HI, "prompt": "hi", "stream": False, **extra}
    assert harness.request(standin, path, body) == (400, {"error": '"qwen3-nothink" does not support thinking'})


@pytest.mark.parametrize("reasoning", [{"reasoning_effort": "low"}, {"reasoning": {"effort": "high"}}])
def test_openai_reasoning_is_refused(standin, reasoning):
    name = create(standin, "qwen3-nothink", current_modelfile())
    status, reply = harness.request(standin, "/v1/chat/completions", {"model": name, "messages": HI, **reasoning})
    assert status == 400
    assert reply["error"] == {
        "message": f'"{name}" does not support thinking',
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


def test_think_false_and_reasoning_none_are_accepted(standin):
    name = create(standin, "qwen3-nothink", current_modelfile())
    status, reply = harness.request(
        standin, "/api/chat", {"model": name, "messages": HI, "stream": False, "think": False}
    )
    assert status == 200 and "thinking" not in reply["message"]
    status, reply = harness.request(
        standin, "/v1/chat/completions", {"model": name, "messages": HI, "reasoning_effort": "none"}
    )
    assert status == 200 and "reasoning" not in reply["choices"][0]["message"]


def test_parser_overrides_a_thinking_parser_carried_by_the_base(standin, monkeypatch, tmp_path):
    # server/create.go inherits the base's parser unless the Modelfile names one: ours does.
    monkeypatch.setenv("OLLAMA_STANDIN_BASE_PARSER", "qwen3-thinking")
    harness.request(standin, "/api/pull", {"model": "qwen3:1.7b", "stream": False})
    assert store.load_manifest("qwen3:1.7b")["config"]["parser"] == "qwen3-thinking"
    name = create(standin, "variant", current_modelfile().replace(f"FROM {BASE}", "FROM qwen3:1.7b"))
    assert store.load_manifest(name)["config"]["parser"] == "qwen3"
    assert "thinking" not in harness.request(standin, "/api/show", {"model": name})[1]["capabilities"]


def test_without_parser_the_gguf_chat_template_would_win_and_think(standin):
    # Why the PARSER line is needed (server/images.go GetModel, v0.30+): without it the GGUF chat template has more
    # capabilities than our TEMPLATE, is preferred, and thinking comes back although the TEMPLATE has no .Thinking.
    name = create(standin, "no-parser", modelfile.render(BASE, PARAMS, parser=None))
    _, show = harness.request(standin, "/api/show", {"model": name})
    assert "thinking" in show["capabilities"] and show["standin_template_selected"] == "gguf_chat_template"
    _, reply = harness.request(standin, "/api/chat", {"model": name, "messages": HI, "stream": False})
    assert reply["message"].get("thinking")


# ---------------------------------------------------------------- NEGATIVE CONTROL: the previous Modelfile
def test_negative_control_previous_template_is_the_committed_one():
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs the git history")
    proc = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{PREVIOUS_COMMIT}:{MODELFILE_PY}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        pytest.skip(f"commit {PREVIOUS_COMMIT} not in this checkout")
    module = types.ModuleType("previous_modelfile")
    sys.modules["previous_modelfile"] = module
    try:
        exec(compile(proc.stdout, "previous_modelfile", "exec"), module.__dict__)
    finally:
        del sys.modules["previous_modelfile"]
    assert module.QWEN3_NOTHINK_TEMPLATE == PREVIOUS_TEMPLATE
    assert module.render(BASE, PARAMS) == previous_modelfile()


def test_negative_control_previous_modelfile_thinks(standin):
    name = create(standin, "qwen3-previous", previous_modelfile())
    _, show = harness.request(standin, "/api/show", {"model": name})
    assert "thinking" in show["capabilities"]
    thought = []
    for api, (path, body) in omit_think_requests(name).items():
        status, reply = harness.request(standin, path, body)
        assert status == 200
        if thinking_of(api, status, reply)[0]:
            thought.append(api)
    assert thought == list(omit_think_requests(name))  # every API thinks when `think` is left out
    status, _ = harness.request(standin, "/api/chat", {"model": name, "messages": HI, "think": True, "stream": False})
    assert status == 200  # and explicit thinking is accepted, not refused


# ---------------------------------------------------------------- tests/support/ollama_thinking.py
def local_sh(command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=60, check=False)


needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")


@needs_curl
def test_support_check_passes_on_the_rendered_model(standin):
    name = create(standin, "qwen3-nothink", current_modelfile())
    findings = ollama_thinking.check_no_thinking(local_sh, standin, name, timeout=30)
    assert findings["ok"], findings["problems"]
    assert findings["api/show"]["capabilities"] == ["completion", "tools"]
    assert all(
        findings[api]["content"]
        for api in findings
        if api.startswith(("api/chat", "api/gen", "v1")) and api != "api/chat render"
    )
    rejected = ollama_thinking.check_think_rejected(local_sh, standin, name, timeout=30)
    assert rejected["ok"], rejected["problems"]


@needs_curl
def test_negative_control_support_check_fails_on_the_previous_model(standin):
    name = create(standin, "qwen3-previous", previous_modelfile())
    findings = ollama_thinking.check_no_thinking(local_sh, standin, name, timeout=30)
    assert not findings["ok"]
    joined = "\n".join(findings["problems"])
    assert "api/show: capabilities" in joined and "list thinking" in joined
    for api in ("api/chat", "api/chat stream", "api/generate", "v1/chat/completions", "v1/chat/completions stream"):
        assert f"{api}: returned thinking" in joined
    assert "api/chat render: prompt does not end with the empty think block" in joined
    rejected = ollama_thinking.check_think_rejected(local_sh, standin, name, timeout=30)
    assert not rejected["ok"] and all(rejected[a]["status"] == 200 for a in ("api/chat", "api/generate"))


@needs_curl
def test_support_check_reports_an_unreachable_server():
    findings = ollama_thinking.check_no_thinking(local_sh, "http://127.0.0.1:9", "m", timeout=5, render_check=False)
    assert not findings["ok"]
    assert findings["api/show"]["status"] == 0 and findings["api/show"]["error"]


@pytest.mark.parametrize(
    ("stdout", "status", "docs", "error"),
    [
        ('{"a":1}\n__HTTP_STATUS__:200', 200, [{"a": 1}], ""),
        ('{"a":1}\n{"b":2}\n\n__HTTP_STATUS__:200', 200, [{"a": 1}, {"b": 2}], ""),
        ('data: {"a":1}\n\ndata: [DONE]\n\n\n__HTTP_STATUS__:200', 200, [{"a": 1}], ""),
        ('{"error":"x"}\n__HTTP_STATUS__:400', 400, [{"error": "x"}], "x"),
        (
            '{"error":{"message":"y","type":"t"}}\n__HTTP_STATUS__:400',
            400,
            [{"error": {"message": "y", "type": "t"}}],
            "y",
        ),
        ("\n__HTTP_STATUS__:000", 0, [], ""),
        ("", 0, [], "no reply"),
    ],
)
def test_parse_reply(stdout, status, docs, error):
    assert ollama_thinking.parse_reply(stdout) == (status, docs, error)
