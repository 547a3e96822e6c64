"""Ollama Modelfiles: render the non-thinking Qwen3 variant and check a Modelfile against Ollama's grammar.

The checker follows Ollama's documented Modelfile format and its parser (``parser/parser.go``):

- commands (case-insensitive): FROM, PARAMETER, TEMPLATE, SYSTEM, ADAPTER, LICENSE, MESSAGE, REQUIRES,
  and RENDERER / PARSER, which the parser also knows; ``#`` starts a comment line; a FROM is required;
- a value runs to the end of the line, or, when it opens with ``"`` or ``\"\"\"``, to the newline after the
  matching closing quote (so quoted values may span lines); an unterminated quote is an error;
- ``PARAMETER <name> <value>``: the name is one of Ollama's runtime options (anything else fails with
  ``unknown parameter``) and the value must parse as that option's type (int, float, bool, string list);
- ``MESSAGE <role> <text>`` with role system, user or assistant; ``REQUIRES`` takes a semantic version.

There is NO ``enable_thinking`` parameter. The variant rendered here is non-thinking for every client, under
Ollama's own rules (ollama/ollama v0.33.0-rc2, the newest source available to this project; we pin 0.34.4):

- its TEMPLATE never references ``.Thinking``, so ``thinking.InferTags`` finds no tags and the model does not get
  the ``thinking`` capability (server/images.go goTemplateCapabilities); without the capability a request that
  omits ``think`` stays unset instead of becoming ``think: true`` (server/routes.go ChatHandler/GenerateHandler),
  and a request that asks for thinking (``think: true``/a level, or ``reasoning_effort`` on /v1) gets HTTP 400
  ``"<model>" does not support thinking``;
- the generation prompt always ends with the empty ``<think>\n\n</think>\n\n`` block, which is what Qwen3's own
  chat template does for ``enable_thinking=False``, so the model answers at once;
- ``PARSER qwen3`` (no thinking support, Qwen3 tool-call parsing) keeps Ollama >= 0.30 from preferring the GGUF's
  own chat template, which has more capabilities (thinking) and would replace our TEMPLATE
  (server/images.go GetModel/shouldPreferChatTemplate need an empty parser), and overrides any parser the base
  model might carry into the variant (server/create.go inherits renderer/parser when the Modelfile gives none).
  The resulting capabilities are ``completion`` and ``tools``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

COMMANDS = (
    "from",
    "parameter",
    "template",
    "system",
    "adapter",
    "license",
    "message",
    "requires",
    "renderer",
    "parser",
)
MESSAGE_ROLES = ("system", "user", "assistant")

# Ollama runtime options valid as PARAMETER (api.Options json tags) and the Go type the value must parse as.
PARAMETER_TYPES: dict[str, str] = {
    "num_keep": "int",
    "seed": "int",
    "num_predict": "int",
    "top_k": "int",
    "top_p": "float",
    "min_p": "float",
    "typical_p": "float",
    "repeat_last_n": "int",
    "temperature": "float",
    "repeat_penalty": "float",
    "presence_penalty": "float",
    "frequency_penalty": "float",
    "stop": "string",  # may repeat; each line adds one stop sequence
    "num_ctx": "int",
    "num_batch": "int",
    "num_gpu": "int",
    "main_gpu": "int",
    "use_mmap": "bool",
    "num_thread": "int",
}
# Accepted by old Ollama releases, now only warned about and ignored: reject so nothing silently does nothing.
DEPRECATED_PARAMETERS = (
    "penalize_newline",
    "low_vram",
    "f16_kv",
    "logits_all",
    "vocab_only",
    "use_mlock",
    "mirostat",
    "mirostat_tau",
    "mirostat_eta",
)
GO_BOOLS = ("1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False")
_INT = re.compile(r"^[+-]?[0-9]+$")
_SEMVER = re.compile(r"^v?(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
_FLOAT = re.compile(r"^[+-]?(inf|infinity|nan|([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?)$", re.IGNORECASE)

# Qwen3 ChatML for Ollama's Go templates, with tools, for the non-thinking variant: no ``.Thinking`` anywhere (past
# assistant turns render content and tool calls only, as Qwen3's template does for turns before the last query) and
# the generation prompt always pre-fills the empty think block, whatever the request's ``think`` says.
QWEN3_NOTHINK_TEMPLATE = """{{- if or .System .Tools }}<|im_start|>system
{{ if .System }}{{ .System }}

{{ end }}
{{- if .Tools }}# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{{- range .Tools }}
{"type": "function", "function": {{ .Function }}}
{{- end }}
</tools>

For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:
<tool_call>
{"name": <function-name>, "arguments": <args-json-object>}
</tool_call>
{{- end -}}
<|im_end|>
{{ end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 -}}
{{- if eq .Role "user" }}<|im_start|>user
{{ .Content }}<|im_end|>
{{ else if eq .Role "assistant" }}<|im_start|>assistant
{{ if .Content }}{{ .Content }}{{ end }}
{{- if .ToolCalls }}
{{- range .ToolCalls }}
<tool_call>
{"name": "{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}
</tool_call>
{{- end }}
{{- end }}{{ if not $last }}<|im_end|>
{{ end }}
{{- else if eq .Role "tool" }}<|im_start|>user
<tool_response>
{{ .Content }}
</tool_response><|im_end|>
{{ end }}
{{- if and (ne .Role "assistant") $last }}<|im_start|>assistant
<think>

</think>

{{ end }}
{{- end }}"""
# Ollama's built-in parser for Qwen3 without thinking support (model/parsers/parsers.go ParserForName "qwen3").
QWEN3_PARSER = "qwen3"

# Qwen3's end-of-turn markers; set explicitly so the variant does not depend on what the base tag carries.
QWEN3_STOP = ("<|im_start|>", "<|im_end|>")


class ModelfileError(ValueError):
    """A Modelfile Ollama would reject (or silently ignore parts of)."""


@dataclass(frozen=True)
class Command:
    name: str  # lower-case command; PARAMETER lines carry the parameter name in `parameter`
    args: str
    line: int
    parameter: str = ""


def _unquote(value: str) -> tuple[str, bool]:
    if value.startswith('"""'):
        if len(value) >= 6 and value.endswith('"""'):
            return value[3:-3], True
        return "", False
    if value.startswith('"'):
        if len(value) >= 2 and value.endswith('"'):
            return value[1:-1], True
        return "", False
    return value, True


def parse(text: str) -> list[Command]:
    """Split a Modelfile into commands the way Ollama's parser does; raises ModelfileError with the line."""
    commands: list[Command] = []
    lines = text.replace("\r\n", "\n").split("\n")
    if lines and lines[0].startswith("\ufeff"):
        lines[0] = lines[0][1:]
    i = 0
    while i < len(lines):
        number = i + 1
        raw = lines[i]
        stripped = raw.strip(" \t")
        i += 1
        if not stripped or stripped.startswith("#"):
            continue
        match = re.match(r"^([A-Za-z]+)([ \t]+)(.*)$", stripped, re.DOTALL)
        if not match:
            word = re.match(r"^\S*", stripped).group(0)
            raise ModelfileError(
                f"line {number}: invalid command {word!r}: command must be one of "
                + ", ".join(c.upper() for c in COMMANDS)
            )
        name = match.group(1).lower()
        if name not in COMMANDS:
            raise ModelfileError(
                f"line {number}: invalid command {match.group(1)!r}: command must be one of "
                + ", ".join(c.upper() for c in COMMANDS)
            )
        rest = match.group(3)
        parameter = ""
        if name in ("parameter", "message"):
            sub = re.match(r"^([A-Za-z0-9_]+)[ \t]+(.*)$", rest, re.DOTALL)
            if not sub or (name == "message" and not sub.group(1).isalpha()):
                raise ModelfileError(f"line {number}: {name.upper()} needs a name and a value")
            parameter, rest = sub.group(1), sub.group(2)
        # A value ends at a newline once it unquotes; otherwise it continues on the next line.
        value = rest
        while True:
            unquoted, ok = _unquote(value.strip(" \t"))
            if ok:
                break
            if i >= len(lines):
                raise ModelfileError(f"line {number}: unterminated quoted value of {name.upper()}")
            value += "\n" + lines[i]
            i += 1
        if name == "message" and parameter not in MESSAGE_ROLES:
            raise ModelfileError(
                f"line {number}: MESSAGE role must be one of system, user, assistant; got {parameter!r}"
            )
        commands.append(Command(name=name, args=unquoted, line=number, parameter=parameter))
    if not any(c.name == "from" for c in commands):
        raise ModelfileError("no FROM line")
    return commands


def _check_value(kind: str, value: str) -> str | None:
    if kind == "int":
        return None if _INT.match(value) else "an integer"
    if kind == "float":
        return None if _FLOAT.match(value) else "a number"
    if kind == "bool":
        return None if value in GO_BOOLS else "a boolean (true/false)"
    return None


def check(text: str) -> list[str]:
    """All problems Ollama would report for this Modelfile (empty list: it parses and every value is valid)."""
    try:
        commands = parse(text)
    except ModelfileError as error:
        return [str(error)]
    errors = []
    for command in commands:
        where = f"line {command.line}"
        if command.name == "parameter":
            pname = command.parameter
            if pname in DEPRECATED_PARAMETERS:
                errors.append(f"{where}: PARAMETER {pname} is deprecated and ignored by Ollama")
            elif pname not in PARAMETER_TYPES:
                errors.append(f"{where}: unknown parameter '{pname}'; valid: {', '.join(sorted(PARAMETER_TYPES))}")
            else:
                expected = _check_value(PARAMETER_TYPES[pname], command.args)
                if expected:
                    errors.append(f"{where}: PARAMETER {pname} must be {expected}, got {command.args!r}")
        elif command.name == "requires" and not _SEMVER.match(command.args):
            errors.append(f"{where}: REQUIRES must be a semantic version (e.g. 0.14.0), got {command.args!r}")
        elif command.name in ("from", "adapter") and not command.args.strip():
            errors.append(f"{where}: {command.name.upper()} needs a model, tag or path")
    return errors


def quote(value: str) -> str:
    """A value as the parser reads it back: bare when plain, "..." or \"\"\"...\"\"\" when needed."""
    if '"""' in value:
        raise ModelfileError('a Modelfile value cannot contain """')
    if "\n" in value or '"' in value or value != value.strip(" \t") or value == "":
        return f'"""{value}"""' if ('"' in value or "\n" in value) else f'"{value}"'
    return value


def format_parameter(name: str, value: Any) -> list[str]:
    """PARAMETER lines for one option (a list gives one line per item, as for `stop`)."""
    values = value if isinstance(value, (list, tuple)) else [value]
    out = []
    for item in values:
        if isinstance(item, bool):
            text = "true" if item else "false"
        elif isinstance(item, float):
            if math.isnan(item) or math.isinf(item):
                raise ModelfileError(f"PARAMETER {name}: {item!r} is not a usable value")
            text = repr(int(item)) if item.is_integer() and PARAMETER_TYPES.get(name) == "int" else repr(item)
        else:
            text = str(item)
        out.append(f"PARAMETER {name} {quote(text)}")
    return out


def render(
    base: str,
    parameters: dict[str, Any] | None = None,
    *,
    template: str | None = QWEN3_NOTHINK_TEMPLATE,
    parser: str | None = QWEN3_PARSER,
    system: str | None = None,
    stop: tuple[str, ...] | list[str] | None = QWEN3_STOP,
    header: str = "",
) -> str:
    """The Modelfile text for `base` (an Ollama tag) with `parameters`; raises ModelfileError if Ollama would not
    accept it. `header` (comment lines) goes first; `stop` is used when `parameters` has no `stop`; `parser` is the
    PARSER line (None: none, so a parser of the base model would be inherited)."""
    if not base or any(ch.isspace() for ch in base):
        raise ModelfileError(f"FROM needs one model tag without spaces, got {base!r}")
    params = dict(parameters or {})
    if stop and "stop" not in params:
        params["stop"] = list(stop)
    lines = [line if line.startswith("#") or not line else f"# {line}" for line in header.splitlines()]
    lines.append(f"FROM {base}")
    if template is not None:
        lines.append(f"TEMPLATE {quote(template)}")
    if parser is not None:
        lines.append(f"PARSER {quote(parser)}")
    if system is not None:
        lines.append(f"SYSTEM {quote(system)}")
    for name in sorted(params, key=lambda n: (n == "stop", n)):
        lines.extend(format_parameter(name, params[name]))
    text = "\n".join(lines) + "\n"
    errors = check(text)
    if errors:
        raise ModelfileError("; ".join(errors))
    return text


def parameters_of(text: str) -> dict[str, list[str]]:
    """PARAMETER values by name (as strings, in order) of a Modelfile."""
    out: dict[str, list[str]] = {}
    for command in parse(text):
        if command.name == "parameter":
            out.setdefault(command.parameter, []).append(command.args)
    return out
