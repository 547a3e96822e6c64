"""Modelfile checker (written from Ollama's documented grammar) and the non-thinking renderer.

How the rendered model behaves under Ollama's rules (no thinking for any client) is tested against the Ollama
stand-in in test_ollama_standin_nothink.py."""


import pytest
from ansible_collections.qwen3.deploy.plugins.module_utils import modelfile
from ansible_collections.qwen3.deploy.plugins.module_utils import profile as profiles
from support.paths import CATALOG_FILE

PROFILES = ("ollama-q8_0", "ollama-q4", "ollama-demo")
CATALOG = CATALOG_FILE


def rendered(name):
    llm = profiles.resolve(profiles.load_catalog(CATALOG), name, {})
    return modelfile.render(llm["model"]["tag"], llm["ollama"]["parameters"], header="managed\nrole: ollama_service")


@pytest.mark.parametrize("name", PROFILES)
def test_rendered_profile_modelfiles_are_accepted(name):
    text = rendered(name)
    assert modelfile.check(text) == []
    llm = profiles.resolve(profiles.load_catalog(CATALOG), name, {})
    commands = modelfile.parse(text)
    assert [c.args for c in commands if c.name == "from"] == [llm["model"]["tag"]]
    params = modelfile.parameters_of(text)
    # Qwen's recommended non-thinking sampling and the profile's context length
    assert params["temperature"] == ["0.7"]
    assert params["top_p"] == ["0.8"]
    assert params["top_k"] == ["20"]
    assert params["min_p"] == ["0"]
    assert params["num_ctx"] == [str(llm["max_model_len"])]
    assert params["stop"] == ["<|im_start|>", "<|im_end|>"]
    assert [c.args for c in commands if c.name == "parser"] == ["qwen3"]
    assert "enable_thinking" not in text


def test_template_round_trips_and_always_prefills_an_empty_think_block():
    text = rendered("ollama-q8_0")
    (template,) = [c.args for c in modelfile.parse(text) if c.name == "template"]
    assert template == modelfile.QWEN3_NOTHINK_TEMPLATE
    # unconditional: no .IsThinkSet/.Think condition around the prefill, and no .Thinking anywhere (Ollama infers
    # the thinking capability from .Thinking inside `range .Messages`)
    assert template.endswith(
        '{{- if and (ne .Role "assistant") $last }}<|im_start|>assistant\n<think>\n\n</think>\n\n{{ end }}\n{{- end }}'
    )
    assert ".Thinking" not in template and ".Think" not in template and ".IsThinkSet" not in template
    assert text.startswith("# managed\n# role: ollama_service\nFROM qwen3:14b-q8_0\nTEMPLATE ")
    assert '</think>\n\n{{ end }}\n{{- end }}"""\nPARSER qwen3\n' in text


def test_render_without_parser():
    assert "PARSER" not in modelfile.render("qwen3:14b", {}, parser=None)


def test_enable_thinking_parameter_is_rejected():
    errors = modelfile.check("FROM qwen3:14b\nPARAMETER enable_thinking true\n")
    assert len(errors) == 1 and "unknown parameter 'enable_thinking'" in errors[0]


def test_render_refuses_unknown_parameter():
    with pytest.raises(modelfile.ModelfileError, match="unknown parameter 'enable_thinking'"):
        modelfile.render("qwen3:14b", {"enable_thinking": False})


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("PARAMETER temperature 0.7\n", "no FROM line"),
        ("FROM qwen3:14b\nPARAMETER temperature warm\n", "must be a number"),
        ("FROM qwen3:14b\nPARAMETER num_ctx 8192.5\n", "must be an integer"),
        ("FROM qwen3:14b\nPARAMETER use_mmap yes\n", "must be a boolean"),
        ("FROM qwen3:14b\nPARAMETER mirostat 1\n", "deprecated"),
        ("FROM qwen3:14b\nPARAMETER num_goroutines 8\n", "unknown parameter 'num_goroutines'"),
        ("FROM qwen3:14b\nINSTRUCTION hi\n", "invalid command"),
        ('FROM qwen3:14b\nTEMPLATE """{{ .Prompt }}\n', "unterminated"),
        ("FROM qwen3:14b\nMESSAGE tool hi\n", "MESSAGE role"),
        ("FROM qwen3:14b\nREQUIRES latest\n", "semantic version"),
        ("FROM\n", "invalid command"),
    ],
)
def test_checker_rejects(text, needle):
    errors = modelfile.check(text)
    assert errors and needle in " ".join(errors)


def test_checker_accepts_the_documented_forms():
    text = (
        "# comment\n"
        "from qwen3:14b\n"
        "ADAPTER ./lora.gguf\n"
        "PARAMETER stop <|im_end|>\n"
        'PARAMETER stop "<|im_start|>"\n'
        "PARAMETER use_mmap false\n"
        "PARAMETER seed -1\n"
        'SYSTEM """You are\nhelpful."""\n'
        'SYSTEM "one line with spaces"\n'
        'MESSAGE user Is it "hot"?\n'
        "MESSAGE assistant yes\n"
        'LICENSE """Apache 2.0\n"""\n'
        "REQUIRES 0.14.0\n"
        "RENDERER qwen3\n"
        "PARSER qwen3\n"
    )
    assert modelfile.check(text) == []
    commands = modelfile.parse(text)
    systems = [c.args for c in commands if c.name == "system"]
    assert systems == ["You are\nhelpful.", "one line with spaces"]
    assert modelfile.parameters_of(text)["stop"] == ["<|im_end|>", "<|im_start|>"]


def test_multiline_double_quoted_value_continues_like_ollama():
    commands = modelfile.parse('FROM x\nSYSTEM "first\nsecond"\nPARAMETER top_k 20\n')
    assert [(c.name, c.args) for c in commands] == [("from", "x"), ("system", "first\nsecond"), ("parameter", "20")]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", "plain"),
        ("two words", "two words"),
        (" pad", '" pad"'),
        ('say "hi"', '"""say "hi""""'),
        ("a\nb", '"""a\nb"""'),
    ],
)
def test_quote(value, expected):
    assert modelfile.quote(value) == expected
    if expected.startswith('"'):
        assert modelfile._unquote(expected) == (value, True)


def test_quote_refuses_triple_quotes():
    with pytest.raises(modelfile.ModelfileError):
        modelfile.quote('x """ y')


def test_parameter_formatting():
    assert modelfile.format_parameter("num_ctx", 8192.0) == ["PARAMETER num_ctx 8192"]
    assert modelfile.format_parameter("temperature", 0.7) == ["PARAMETER temperature 0.7"]
    assert modelfile.format_parameter("use_mmap", True) == ["PARAMETER use_mmap true"]
    assert modelfile.format_parameter("stop", ["a", "b c"]) == ["PARAMETER stop a", "PARAMETER stop b c"]
