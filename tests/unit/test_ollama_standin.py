"""Upstream Ollama's own test cases, ported and run against the Ollama STAND-IN (tests/ollama_standin/).

Each test is named after the upstream test (ollama/ollama v0.33.0-rc2, commit fb3076099; the project pins 0.34.4,
which is not in the snapshot available here) and keeps its inputs and expectations; upstream builds models from
GGUF KVs + a TEMPLATE layer + a config, the port stores the same facts as a stand-in manifest (harness.write_model).
Not ported: vision/audio/projector cases (not modelled by the stand-in), streaming chunk-boundary cases.
"""

import pytest
from ollama_standin import harness
from ollama_standin.standin import generate, modelfile_parser, rules, store
from ollama_standin.standin.ollama_template import Template

CUSTOM = "CUSTOM {{ .Prompt }}"


@pytest.fixture
def models(tmp_path, monkeypatch):
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
    return tmp_path / "models"


@pytest.fixture
def base(models):
    with harness.running_server() as url:
        yield url


def model(**kw) -> rules.Model:
    tmpl = kw.pop("template", None)
    return rules.Model(name="m", config=kw.pop("config", {}), template=Template.parse(tmpl or "{{ .Prompt }}"), **kw)


# ---------------------------------------------------------------- server/images_test.go TestModelCapabilities
GGUF_TOOL_THINK = (
    "{% if tools %}<tool_call>{{ tools }}</tool_call>{% endif %}<think>{{ messages[0]['content'] }}</think>"
)
TOOLS_INSERT = "{{ .prompt }}{{ if .tools }}{{ .tools }}{{ end }}{{ if .suffix }}{{ .suffix }}{{ end }}"


@pytest.mark.parametrize(
    ("name", "kw", "expected"),
    [
        (
            "model with image generation capability via config",
            {"config": {"capabilities": ["image"]}, "has_gguf": False},
            ["image"],
        ),
        (
            "model with image and vision capability (image editing)",
            {"config": {"capabilities": ["image", "vision"]}, "has_gguf": False},
            ["image", "vision"],
        ),
        ("model with completion capability", {"template": "{{ .prompt }}"}, ["completion"]),
        (
            "model with completion, tools, and insert capability",
            {"template": TOOLS_INSERT},
            ["completion", "tools", "insert"],
        ),
        (
            "model with tools capability",
            {"template": "{{ .prompt }}{{ if .tools }}{{ .tools }}{{ end }}"},
            ["completion", "tools"],
        ),
        (
            "model with GGUF chat_template tools and thinking",
            {"chat_template": GGUF_TOOL_THINK},
            ["completion", "tools", "thinking"],
        ),
        (
            "model with Go TEMPLATE ignores GGUF chat_template capabilities",
            {"chat_template": GGUF_TOOL_THINK, "template": "{{ .prompt }}", "has_go_template": True},
            ["completion"],
        ),
        (
            "model with tools capability from config and parser",
            {
                "config": {"capabilities": ["completion", "tools"], "parser": "qwen3-coder"},
                "template": "{{ .prompt }}",
                "has_gguf": False,
            },
            ["completion", "tools"],
        ),
        ("model with embedding capability", {"template": "{{ .prompt }}", "pooling": True}, ["embedding"]),
    ],
)
def test_TestModelCapabilities(name, kw, expected, models):
    assert sorted(model(**kw).capabilities()) == sorted(expected), name


# ---------------------------------------------------------------- server/images_test.go TestGetModelTemplateMetadata
WEAKER_TOOLS_CHAT = """{%- if tools and not available_tools -%}
{{- set available_tools = tools -}}
{%- endif -%}
{%- if available_tools -%}
{{ '<|start_of_role|>available_tools<|end_of_role|>' }}{{ available_tools | tojson }}{{ '<|end_of_text|>' }}
{%- endif -%}
{%- if thinking -%}<think></think><response></response>{%- endif -%}
{%- for message in messages -%}
{{ '<|start_of_role|>' + message['role'] + '<|end_of_role|>' + message['content'] + '<|end_of_text|>' }}
{%- endfor -%}"""
WEAKER_TOOLS_GO = """{{ if .Tools }}tools{{ end }}
{{ range .Messages }}
{{ if eq .Role "tool" }}tool_response{{ else }}{{ .Role }}{{ end }}
{{ if .ToolCalls }}<|tool_call|>{{ range .ToolCalls }}{{ .Function.Name }}{{ end }}{{ else }}{{ .Content }}{{ end }}
{{ end }}"""
ROUND_TRIP_CHAT = """{% if tools %}{{ tools }}{% endif %}
{% for message in messages %}
{% if message.tool_calls %}
{% for tool_call in message.tool_calls %}{{ tool_call.function.name }}{% endfor %}
{% endif %}
{% if message.role == 'tool' %}tool_response {{ message.content }}{% endif %}
{% endfor %}"""
ROUND_TRIP_GO = """{{ if .Tools }}tools{{ end }}
{{ range .Messages }}
{{ range .ToolCalls }}{{ .Function.Name }}{{ end }}
{{ end }}"""
CHAT_TOOLS = "{% if tools %}{{ tools }}{% endif %}{{ messages[0]['content'] }}"


@pytest.mark.parametrize(
    "case",
    ids=lambda c: c[0],
    argvalues=[
        (
            "records chat template and Go TEMPLATE layer",
            "",
            "{{ bos_token }}{{ messages[0]['content'] }}",
            CUSTOM,
            False,
            [],
            [],
        ),
        ("prefers chat template when Go TEMPLATE has fewer capabilities", "", CHAT_TOOLS, CUSTOM, True, ["tools"], []),
        (
            "prefers Qwen chat template with tools and inferred thinking",
            "",
            "{% if tools %}{{ tools }}{% endif %}{% set content = (content.split('</think>')|last) %}",
            "{{ range .Messages }}{{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}{{ .Content }}{{ end }}",
            True,
            ["tools", "thinking"],
            [],
        ),
        (
            "prefers chat template with stronger tool round trip",
            "",
            ROUND_TRIP_CHAT,
            ROUND_TRIP_GO,
            True,
            ["tools"],
            [],
        ),
        (
            "keeps Go TEMPLATE when chat template has weaker tool support",
            "",
            WEAKER_TOOLS_CHAT,
            WEAKER_TOOLS_GO,
            False,
            ["tools"],
            ["thinking"],
        ),
        ("respects explicit Go TEMPLATE enablement", "1", CHAT_TOOLS, CUSTOM, False, [], ["tools"]),
        ("respects explicit Go TEMPLATE disablement", "0", CHAT_TOOLS, CUSTOM, False, ["tools"], []),
        ("records missing chat template", "", "", CUSTOM, False, [], []),
    ],
)
def test_TestGetModelTemplateMetadata(case, models, monkeypatch):
    name, env, chat, go, prefer, has, lacks = case
    monkeypatch.setenv("OLLAMA_GO_TEMPLATE", env)
    harness.write_model("t", template=go, chat_template=chat)
    m = rules.get_model("t", store.load_manifest("t"))
    assert m.has_chat_template == bool(chat) and m.has_go_template
    assert m.template.raw == go
    assert m.prefer_chat_template is prefer, name
    caps = m.capabilities()
    assert all(c in caps for c in has) and not any(c in caps for c in lacks), caps


# ---------------------------------------------------------------- server/routes_generate_test.go TestChatModeForModel
@pytest.mark.parametrize(
    ("env", "kw", "mode"),
    [
        ("", {"chat_template": "x", "has_go_template": True}, "rendered"),
        ("0", {"chat_template": "x", "has_go_template": True}, "native"),
        ("1", {"chat_template": "x", "has_go_template": True}, "rendered"),
        ("1", {"chat_template": "x", "has_go_template": True, "prefer_chat_template": True}, "rendered"),
        ("", {"chat_template": "x", "has_go_template": True, "prefer_chat_template": True}, "native"),
        ("0", {"config": {"parser": "gemma4"}, "chat_template": "x"}, "rendered"),
        ("0", {"config": {"renderer": "gemma3"}, "chat_template": "x"}, "rendered"),
        ("0", {"config": {"model_format": "safetensors"}, "chat_template": "x"}, "rendered"),
        ("0", {"config": {"model_family": "gptoss"}, "template": "<|start|><|end|>", "chat_template": "x"}, "rendered"),
        ("", {"config": {"model_family": "unknown"}, "chat_template": "x"}, "native"),
        ("", {"config": {"model_family": "unknown"}, "has_go_template": True}, "rendered"),
    ],
)
def test_TestChatModeForModel(env, kw, mode, monkeypatch):
    monkeypatch.setenv("OLLAMA_GO_TEMPLATE", env)
    assert rules.chat_mode(model(**kw)) == mode


# ---------------------------------------------------------------- server/routes_generate_test.go TestGenerateChat
GENERATE_CHAT_TEMPLATE = """
{{- if .Tools }}
{{ .Tools }}
{{ end }}
{{- range .Messages }}
{{- .Role }}: {{ .Content }}
{{- range .ToolCalls }}{"name": "{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}
{{- end }}
{{ end }}"""


@pytest.fixture
def generate_chat(base, monkeypatch):
    monkeypatch.setenv("OLLAMA_GO_TEMPLATE", "1")
    harness.write_model("test", template=GENERATE_CHAT_TEMPLATE)
    return base


def test_TestGenerateChat_missing_thinking_capability(generate_chat):
    status, body = harness.request(
        generate_chat,
        "/api/chat",
        {"model": "test", "messages": [{"role": "user", "content": "Hello!"}], "think": True},
    )
    assert status == 400
    assert body == {"error": '"test" does not support thinking'}


def test_TestGenerateChat_model_cant_think_but_think_set_false(generate_chat):
    status, _ = harness.request(
        generate_chat,
        "/api/chat",
        {"model": "test", "messages": [{"role": "user", "content": "Hello!"}], "think": False, "stream": False},
    )
    assert status == 200


def test_TestGenerateChat_missing_model(generate_chat):
    assert harness.request(generate_chat, "/api/chat", {"messages": []}) == (400, {"error": "model is required"})


# ------------------------------------------------ server/routes_generate_test.go TestChatWithPromptEndingInThinkTag
ENDS_IN_THINK = """{{- range .Messages }}
{{- if eq .Role "user" }}user: {{ .Content }}
{{ else if eq .Role "assistant" }}assistant: {{ if .Thinking }}<think>{{ .Thinking }}</think>{{ end }}{{ .Content }}
{{ end }}{{ end }}<think>"""


@pytest.mark.parametrize(
    ("name", "output", "thinking", "content"),
    [
        (
            "basic thinking response",
            " Let me think about this step by step... </think> The answer is 42.",
            "Let me think about this step by step... ",
            "The answer is 42.",
        ),
        (
            "thinking with multiple sentences",
            " First, I need to understand the basics. Quantum bits can be in superposition. </think> Quantum computing uses quantum mechanics principles.",
            "First, I need to understand the basics. Quantum bits can be in superposition. ",
            "Quantum computing uses quantum mechanics principles.",
        ),
        ("no thinking content", "</think> The answer is 4.", "", "The answer is 4."),
    ],
)
def test_TestChatWithPromptEndingInThinkTag(name, output, thinking, content):
    m = model(template=ENDS_IN_THINK, has_go_template=True)
    route, prompt = generate.render(m, [{"role": "user", "content": "q"}], None, True)
    assert route == "rendered" and prompt.endswith("<think>")
    assert generate.split(m, route, True, prompt, output) == (thinking, content), name


# ---------------------------------------------------------------- openai/openai_test.go TestFromChatRequest_ReasoningEffort
@pytest.mark.parametrize(
    ("name", "effort", "want"),
    [
        ("unset", None, None),
        ("high", "high", "high"),
        ("medium", "medium", "medium"),
        ("low", "low", "low"),
        ("max", "max", "max"),
        ("minimal clamps to low", "minimal", "low"),
        ("xhigh clamps to max", "xhigh", "max"),
        ("ultra clamps to max", "ultra", "max"),
        ("none disables", "none", False),
    ],
)
def test_TestFromChatRequest_ReasoningEffort(name, effort, want):
    req = {"model": "test-model", "messages": [{"role": "user", "content": "hi"}]}
    if effort is not None:
        req["reasoning_effort"] = effort
    assert rules.openai_think(req) == want


def test_TestFromChatRequest_ReasoningEffort_invalid():
    with pytest.raises(rules.RequestError, match='invalid reasoning value: "extreme"'):
        rules.openai_think({"reasoning_effort": "extreme"})


def test_openai_reasoning_object_wins_over_reasoning_effort():
    # openai/openai.go FromChatRequest: `if r.Reasoning != nil { effort = r.Reasoning.Effort } else if ...`
    assert rules.openai_think({"reasoning": {"effort": "none"}, "reasoning_effort": "high"}) is False
    assert rules.openai_think({"reasoning": {}, "reasoning_effort": "high"}) is None


# ---------------------------------------------------------------- api/types_test.go TestThinking_UnmarshalJSON
@pytest.mark.parametrize(
    ("name", "raw", "want"),
    [
        ("true", True, True),
        ("false", False, False),
        ("unset", None, None),
        ("string_high", "high", "high"),
        ("string_medium", "medium", "medium"),
        ("string_low", "low", "low"),
        ("string_max", "max", "max"),
    ],
)
def test_TestThinking_UnmarshalJSON(name, raw, want):
    assert rules.parse_think(raw) == want


def test_TestThinking_UnmarshalJSON_invalid_string():
    with pytest.raises(rules.RequestError, match="invalid think value"):
        rules.parse_think("invalid")


# ---------------------------------------------------------------- llm/llama_server_test.go TestLlamaServerChatTemplateKwargs
@pytest.mark.parametrize(
    ("name", "think", "want"),
    [
        ("unset", None, None),
        ("disabled", False, {"enable_thinking": False}),
        ("enabled uses template default effort", True, {"enable_thinking": True}),
        ("explicit effort", "high", {"enable_thinking": True, "reasoning_effort": "high"}),
    ],
)
def test_TestLlamaServerChatTemplateKwargs(name, think, want):
    assert generate.chat_template_kwargs(think) == want


# ---------------------------------------------------------------- model/parsers/qwen3_test.go
@pytest.mark.parametrize(
    "case",
    ids=lambda c: c[0],
    argvalues=[
        ("TestQwen3ParserThinkingEnabled", True, True, "Let me think...</think>Answer.", "Let me think...", "Answer."),
        (
            "TestQwen3ParserThinkingEnabledWithExplicitOpeningTag",
            True,
            True,
            "<think>\nLet me think...</think>Answer.",
            "Let me think...",
            "Answer.",
        ),
        ("TestQwen3ParserThinkingDisabled", False, False, "Direct answer", "", "Direct answer"),
        (
            "TestQwen3ParserNilThinkDefaultsToContentForInstructParser",
            False,
            None,
            "Direct answer",
            "",
            "Direct answer",
        ),
    ],
)
def test_qwen3_parser(case):
    name, support, think, output, thinking, content = case
    assert generate.qwen3_parser(output, support, think) == (thinking, content), name


# ---------------------------------------------------------------- server/routes_create_test.go
def test_TestCreateFromModelInheritsRendererParser(base):
    harness.write_model("base", renderer="custom-renderer", parser="custom-parser")
    assert harness.request(base, "/api/create", {"name": "child", "from": "base", "stream": False})[0] == 200
    cfg = store.load_manifest("child")["config"]
    assert (cfg["renderer"], cfg["parser"]) == ("custom-renderer", "custom-parser")


def test_create_from_model_parser_given_overrides_inherited(base):
    # server/create.go CreateHandler: `if config.Parser == "" { config.Parser = baseConfig.Parser }`
    harness.write_model("base", parser="qwen3-thinking")
    harness.request(base, "/api/create", {"name": "child", "from": "base", "parser": "qwen3", "stream": False})
    assert store.load_manifest("child")["config"]["parser"] == "qwen3"


# ---------------------------------------------------------------- parser/parser_test.go
def test_TestParseFileTrimSpace():
    text = (
        '\nFROM "     model 1"\nADAPTER      adapter3\nLICENSE "MIT       "\nPARAMETER param1        value1\n'
        "PARAMETER param2    value2\n"
        'TEMPLATE """   {{ if .System }}<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>{{ end }}'
        "{{ if .Prompt }}<|start_header_id|>user<|end_header_id|>\n\n{{ .Prompt }}<|eot_id|>{{ end }}"
        '<|start_header_id|>assistant<|end_header_id|>\n\n{{ .Response }}<|eot_id|>   """    \n'
    )
    assert modelfile_parser.parse_file(text) == [
        ("model", "     model 1"),
        ("adapter", "adapter3"),
        ("license", "MIT       "),
        ("param1", "value1"),
        ("param2", "value2"),
        (
            "template",
            "   {{ if .System }}<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>{{ end }}"
            "{{ if .Prompt }}<|start_header_id|>user<|end_header_id|>\n\n{{ .Prompt }}<|eot_id|>{{ end }}"
            "<|start_header_id|>assistant<|end_header_id|>\n\n{{ .Response }}<|eot_id|>   ",
        ),
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('FROM "FOO  BAR  "', [("model", "FOO  BAR  ")]),
        ('FROM "FOO BAR"\nPARAMETER param1 value1', [("model", "FOO BAR"), ("param1", "value1")]),
        ("FROM     FOOO BAR    ", [("model", "FOOO BAR")]),
        ("FROM /what/is/the path ", [("model", "/what/is/the path")]),
        ("FROM llama3:7b-instruct-q4_K_M", [("model", "llama3:7b-instruct-q4_K_M")]),
        ("", "no FROM line"),
        ("PARAMETER param1 value1", "no FROM line"),
        ("PARAMETER param1 value1\nFROM foo", [("param1", "value1"), ("model", "foo")]),
        ("PARAMETER what the \nFROM lemons make lemonade ", [("what", "the"), ("model", "lemons make lemonade")]),
    ],
)
def test_TestParseFileFrom(text, expected):
    if isinstance(expected, str):
        with pytest.raises(modelfile_parser.ModelfileError, match=expected):
            modelfile_parser.parse_file(text)
    else:
        assert modelfile_parser.parse_file(text) == expected


@pytest.mark.parametrize(
    ("name", "text", "needle"),
    [
        ("TestParseFileParametersMissingValue", "\nFROM foo\nPARAMETER param1\n", "unexpected EOF"),
        ("TestParseFileBadCommand", "\nFROM foo\nBADCOMMAND param1 value1\n", "(line 3): command must be one of"),
        ("TestParseFileMessages/badguy", "\nFROM foo\nMESSAGE badguy I'm a bad guy!\n", "(line 3): message role"),
        ("TestParseFileMessages/no value", "\nFROM foo\nMESSAGE system\n", "unexpected EOF"),
        ("TestParseFileMessages/no value at EOF", "\nFROM foo\nMESSAGE system", "unexpected EOF"),
    ],
)
def test_parser_errors(name, text, needle):
    with pytest.raises(modelfile_parser.ModelfileError) as err:
        modelfile_parser.parse_file(text)
    assert needle in str(err.value), name


def test_TestParseFileRenderer_and_TestParseFileParser_and_TestParseFileMessages():
    assert modelfile_parser.parse_file("\nFROM foo\nRENDERER renderer1\n") == [
        ("model", "foo"),
        ("renderer", "renderer1"),
    ]
    assert modelfile_parser.parse_file("\nFROM foo\nPARSER parser1\n") == [("model", "foo"), ("parser", "parser1")]
    text = '\nFROM foo\nMESSAGE system """\nYou are a multiline file parser. Always parse things.\n"""\n\t\t\t'
    assert modelfile_parser.parse_file(text)[1] == (
        "message",
        "system: \nYou are a multiline file parser. Always parse things.\n",
    )


@pytest.mark.parametrize(
    ("param", "value", "want"),
    [
        ("temperature", "0.7", 0.7),
        ("num_ctx", "8192", 8192),
        ("use_mmap", "F", False),
        ("stop", "<|im_end|>", ["<|im_end|>"]),
        ("temperature", "warm", "invalid float value [warm]"),
        ("num_ctx", "1.5", "invalid int value [1.5]"),
        ("use_mmap", "yes", "invalid bool value [yes]"),
        ("enable_thinking", "false", "unknown parameter 'enable_thinking'"),
    ],
)
def test_api_FormatParams(param, value, want):
    if isinstance(want, str) and want.startswith(("invalid", "unknown")):
        with pytest.raises(modelfile_parser.ModelfileError, match=want.replace("[", r"\[").replace("]", r"\]")):
            modelfile_parser.format_params(param, value)
    else:
        assert modelfile_parser.format_params(param, value) == want
