"""STAND-IN code (qwen3-deploy tests), NOT Ollama: Ollama's rules for capabilities, template selection, `think`
defaulting and the OpenAI reasoning mapping, ported function by function.

Upstream: ollama/ollama v0.33.0-rc2 (commit fb30760996871fa9460115c753afd2c60d4ab0f7, 2026-08-21), identical to
v0.32.15 in these files; the project pins 0.34.4, which is not in the snapshot available here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from .ollama_template import DEFAULT_TEMPLATE, Template, infer_tags

# model/parsers/parsers.go ParserForName -> (HasToolSupport, HasThinkingSupport) of each parser's methods
# (model/parsers/*.go, harmony/harmonyparser.go). A name not listed is unknown: ParserForName returns nil.
PARSERS: dict[str, tuple[bool, bool]] = {
    "qwen3": (True, False),
    "qwen3-thinking": (True, True),
    "qwen3.5": (True, True),
    "ornith": (True, True),
    "qwen3-coder": (True, False),
    "qwen3-vl-instruct": (True, False),
    "qwen3-vl-thinking": (True, True),
    "ministral": (True, False),
    "passthrough": (False, False),
    "harmony": (True, True),
    "cogito": (True, True),
    "deepseek3": (True, True),
    "olmo3": (True, False),
    "olmo3-think": (False, True),
    "nemotron-3-nano": (True, True),
    "nemotron-3.5-nano": (True, True),
    "functiongemma": (True, False),
    "glm-4.7": (True, True),
    "gemma4": (True, True),
    "gemma4-no-thinking": (True, False),
    "glm-ocr": (True, False),
    "lfm2": (True, False),
    "lfm2-thinking": (True, True),
    "laguna": (True, True),
    "poolside-v1": (True, True),
    "cohere": (True, True),
    "glimmer": (True, True),
}
THINK_LEVELS = ("high", "medium", "low", "max")


class RequestError(Exception):
    """An error answer: HTTP status + the message upstream puts under "error"."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def env_var(key: str) -> str:
    """envconfig/config.go Var: trimmed of spaces and quotes."""
    return os.environ.get(key, "").strip().strip("\"'")


def go_template(default: bool) -> bool:
    """envconfig/config.go BoolWithDefault("OLLAMA_GO_TEMPLATE"): unparsable -> true."""
    s = env_var("OLLAMA_GO_TEMPLATE")
    if not s:
        return default
    if s in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    return s not in ("0", "f", "F", "FALSE", "false", "False")


def go_template_env_set() -> bool:
    """server/images.go goTemplateEnvSet."""
    return go_template(True) == go_template(False)


# ---------------------------------------------------------------- server/images.go
def chat_template_has_tool_support(t: str) -> bool:
    return "tools" in t or "tool_call" in t


def chat_template_has_tool_round_trip(t: str) -> bool:
    if not chat_template_has_tool_support(t):
        return False
    calls = "tool_calls" in t or "assistant_tool_call" in t
    markers = (
        "tool_response",
        "tool_results",
        "role'] == 'tool'",
        'role\'] == "tool"',
        "role\"] == 'tool'",
        'role"] == "tool"',
        "message.role == 'tool'",
        'message.role == "tool"',
        "ipython",
    )
    return calls and any(m in t for m in markers)


def chat_template_has_thinking_support(t: str) -> bool:
    if "<think>" in t and "</think>" in t:
        return True
    split = "content.split('</think>')" in t or 'content.split("</think>")' in t
    return split and "reasoning_content" not in t and "<SPECIAL_12>" not in t


def chat_template_capabilities(caps: list[str], t: str) -> list[str]:
    if not t:
        return caps
    if chat_template_has_tool_support(t):
        caps = _append(caps, "tools")
    if chat_template_has_thinking_support(t):
        caps = _append(caps, "thinking")
    return caps


def go_template_capabilities(t: Template | None) -> list[str]:
    if t is None:
        return []
    v = t.vars()
    caps: list[str] = []
    if "tools" in v:
        caps = _append(caps, "tools")
    if "suffix" in v:
        caps = _append(caps, "insert")
    opening, closing = infer_tags(t.root)
    if opening and closing:
        caps = _append(caps, "thinking")
    return caps


def go_template_has_tool_round_trip(t: Template | None) -> bool:
    if t is None:
        return False
    v = t.vars()
    if "tools" not in v or "toolcalls" not in v:
        return False
    return 'eq .Role "tool"' in t.raw or "tool_response" in t.raw or "TOOL_RESULTS" in t.raw


def should_prefer_chat_template(chat: str, chat_caps: list[str], go: Template | None, go_caps: list[str]) -> bool:
    if len(chat_caps) > len(go_caps):  # hasMoreCapabilities
        return not go_template_has_tool_round_trip(go) or chat_template_has_tool_round_trip(chat)
    same = len(chat_caps) == len(go_caps) and all(c in go_caps for c in chat_caps)
    if not same or "tools" not in chat_caps or "tools" not in go_caps:
        return False
    return chat_template_has_tool_round_trip(chat) and not go_template_has_tool_round_trip(go)


def _append(caps: list[str], c: str) -> list[str]:
    return caps if c in caps else [*caps, c]


@dataclass
class Model:
    """server/images.go Model, as GetModel fills it from the stand-in's manifest."""

    name: str
    config: dict[str, Any]
    template: Template
    has_go_template: bool = False
    chat_template: str = ""  # the GGUF's tokenizer.chat_template
    has_gguf: bool = True  # upstream: ModelPath != "" && isGGUF()
    pooling: bool = False
    system: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    messages: list[dict] = field(default_factory=list)
    prefer_chat_template: bool = False

    @property
    def has_chat_template(self) -> bool:
        return self.chat_template != ""

    def cfg(self, key: str) -> Any:
        return self.config.get(key) or ""

    def capabilities(self) -> list[str]:
        """server/images.go (*Model).Capabilities -> capabilitiesForTemplate(templateCapabilitySelected)."""
        caps: list[str] = []
        for c in self.config.get("capabilities") or []:  # configCapabilities
            caps = _append(caps, c)
        if self.has_gguf:  # ggufCapabilities (vision/audio keys are not modelled)
            if not uses_ollama_rendered_chat(self):
                caps = chat_template_capabilities(caps, self.chat_template)
            caps = _append(caps, "embedding" if self.pooling else "completion")
        # templateCapabilities
        if not (self.has_go_template and not should_use_go_template(self)):
            for c in go_template_capabilities(self.template):
                caps = _append(caps, c)
        parser = PARSERS.get(self.cfg("parser"))  # parserCapabilities
        if parser:
            if parser[0]:
                caps = _append(caps, "tools")
            if parser[1]:
                caps = _append(caps, "thinking")
        if self.cfg("model_family") in ("gptoss", "gpt-oss"):  # modelFamilyCapabilities
            caps = _append(caps, "thinking")
        return caps  # projectorCapabilities / filterUnsupportedCapabilities (vision, audio): not modelled


def should_use_harmony(m: Model) -> bool:
    """server/routes.go shouldUseHarmony."""
    return (
        m.cfg("model_family") in ("gptoss", "gpt-oss") and "<|start|>" in m.template.raw and "<|end|>" in m.template.raw
    )


def should_use_go_template(m: Model) -> bool:
    """server/routes.go shouldUseGoTemplate."""
    if not m.has_go_template:
        return False
    if go_template_env_set():
        return go_template(True)
    return not m.prefer_chat_template and go_template(True)


def uses_ollama_rendered_chat(m: Model) -> bool:
    """server/routes.go usesOllamaRenderedChat."""
    return bool(m.cfg("renderer") or m.cfg("parser") or should_use_harmony(m) or should_use_go_template(m))


def chat_mode(m: Model) -> str:
    """server/routes.go chatModeForModel ((*Model).IsMLX: model_format safetensors): "rendered" or "native"."""
    return "rendered" if m.cfg("model_format") == "safetensors" or uses_ollama_rendered_chat(m) else "native"


def get_model(name: str, manifest: dict) -> Model:
    """server/images.go GetModel: layers -> Model, then the PreferChatTemplate decision (v0.30.0+)."""
    layers = manifest.get("layers") or {}
    gguf = manifest.get("gguf")  # None: no GGUF model layer (e.g. a config-only model in upstream's tests)
    tmpl_text = layers.get("template")
    m = Model(
        name=name,
        config=dict(manifest.get("config") or {}),
        template=Template.parse(tmpl_text) if tmpl_text is not None else Template.parse(DEFAULT_TEMPLATE),
        has_go_template=tmpl_text is not None,
        chat_template=(gguf or {}).get("chat_template", ""),
        has_gguf=gguf is not None,
        pooling=bool((gguf or {}).get("pooling")),
        system=layers.get("system") or "",
        options=dict(layers.get("params") or {}),
        messages=list(layers.get("messages") or []),
    )
    chat_caps = chat_template_capabilities([], m.chat_template)
    go_caps = go_template_capabilities(m.template)
    if (
        not go_template_env_set()
        and m.has_go_template
        and m.chat_template
        and not m.cfg("renderer")
        and not m.cfg("parser")
        and not should_use_harmony(m)
        and should_prefer_chat_template(m.chat_template, chat_caps, m.template, go_caps)
    ):
        m.prefer_chat_template = True
    return m


def selected_template_source(m: Model) -> str:
    """server/images.go selectedTemplateSource (logged as "template selection ... selected=")."""
    if m.cfg("renderer") and m.cfg("parser"):
        return "renderer_parser"
    if m.cfg("renderer"):
        return "renderer"
    if m.cfg("parser"):
        return "parser"
    if should_use_harmony(m):
        return "harmony"
    if should_use_go_template(m):
        return "go_template"
    return "gguf_chat_template" if m.has_chat_template else "none"


# ---------------------------------------------------------------- api/types.go ThinkValue
def parse_think(raw: Any) -> Any:
    """api/types.go (*ThinkValue).UnmarshalJSON; JSON null / absent -> None (a nil *ThinkValue)."""
    if raw is None or isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        if raw not in THINK_LEVELS:
            raise RequestError(
                400, f'invalid think value: "{raw}" (must be "high", "medium", "low", "max", true, or false)'
            )
        return raw
    raise RequestError(400, 'think must be a boolean or string ("high", "medium", "low", "max", true, or false)')


def think_bool(think: Any) -> bool:
    """(*ThinkValue).Bool: true for true and every level string."""
    return think is True or (isinstance(think, str) and think in THINK_LEVELS)


def think_string(think: Any) -> str:
    """(*ThinkValue).String: "medium" for true, "" for false/nil, the level otherwise."""
    if isinstance(think, str):
        return think
    return "medium" if think is True else ""


def apply_think_gate(m: Model, model_name: str, think: Any, relax: bool = False) -> Any:
    """server/routes.go ChatHandler (l.2612-2633) / GenerateHandler (l.452-463): capable + nil -> true; not capable
    + truthy -> 400 "<model> does not support thinking" (%q of the name as sent), or nil when the Anthropic
    middleware set relax_thinking (chat only)."""
    if "thinking" in m.capabilities():
        return True if think is None else think
    if think is not None and think_bool(think):
        if relax:
            return None
        raise RequestError(400, f"{go_quote(model_name)} does not support thinking")
    return think


def go_quote(s: str) -> str:
    """fmt's %q for the plain names the stand-in sees."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ---------------------------------------------------------------- openai/openai.go
def think_from_reasoning_effort(effort: str) -> Any:
    """openai/openai.go thinkFromReasoningEffort (v0.32.11+ clamps)."""
    if effort == "":
        return None
    if effort == "none":
        return False
    if effort == "minimal":
        return "low"
    if effort in ("low", "medium", "high", "max"):
        return effort
    if effort in ("xhigh", "ultra"):
        return "max"
    raise RequestError(
        400,
        f'invalid reasoning value: "{effort}" (must be "minimal", "low", "medium", "high", '
        '"xhigh", "ultra", "max", or "none")',
    )


def openai_think(req: dict) -> Any:
    """openai/openai.go FromChatRequest: reasoning.effort wins over reasoning_effort; both absent -> nil."""
    effort = ""
    if isinstance(req.get("reasoning"), dict):
        effort = req["reasoning"].get("effort") or ""
    elif req.get("reasoning_effort") is not None:
        effort = req["reasoning_effort"]
    return think_from_reasoning_effort(effort)


def openai_error(status: int, message: str) -> dict:
    """openai/openai.go NewError (as middleware/openai.go writeError sends it)."""
    etype = {400: "invalid_request_error", 404: "not_found_error"}.get(status, "api_error")
    return {"error": {"message": message, "type": etype, "param": None, "code": None}}
