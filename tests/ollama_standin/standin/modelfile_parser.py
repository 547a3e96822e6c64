"""STAND-IN code (qwen3-deploy tests), NOT Ollama: port of Ollama's Modelfile parser and of the CLI's conversion
of a Modelfile into an /api/create request. Written from upstream, independent of qwen3-deploy's own checker.

Upstream: ollama/ollama v0.33.0-rc2 (commit fb30760996871fa9460115c753afd2c60d4ab0f7; the project pins 0.34.4,
which is not in the snapshot available here):
- parser/parser.go ParseFile + parseRuneForState: the rune state machine (commands are letters only and
  case-insensitive; a value ends at a newline once it unquotes, so "..." and \"\"\"...\"\"\" may span lines; only
  printable runes and, inside an open quote, newlines/tabs are kept; "#" starts a comment only at the start of a
  command); errors errMissingFrom, errInvalidMessageRole, errInvalidCommand, io.ErrUnexpectedEOF;
- parser/parser.go unquote, isValidCommand, isValidMessageRole;
- parser/parser.go (Modelfile).CreateRequest: FROM -> from (a path that exists would be files: not modelled by
  the stand-in), template/system/renderer/parser, license list, requires (semver, "v" optional), message
  "role: content", deprecated parameters warned and skipped, other names through api.FormatParams;
- api/types.go FormatParams + Options/Runner (json tags -> Go kinds): unknown name -> "unknown parameter '<n>'",
  float32/int/bool parse errors "invalid float value [v]" etc., stop (a []string) accumulates.
"""

from __future__ import annotations

import re
from typing import Any

DEPRECATED = (
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
COMMANDS = (
    "from",
    "license",
    "template",
    "system",
    "adapter",
    "draft",
    "renderer",
    "parser",
    "parameter",
    "message",
    "requires",
)
ERR_INVALID_COMMAND = (
    'command must be one of "from", "license", "template", "system", "adapter", "draft", '
    '"renderer", "parser", "parameter", "message", or "requires"'
)
ERR_INVALID_ROLE = 'message role must be one of "system", "user", or "assistant"'
# api/types.go Options (+ embedded Runner): json tag -> reflect kind as FormatParams sees it
OPTION_KINDS = {
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
    "stop": "slice",
    "num_ctx": "int",
    "num_batch": "int",
    "num_gpu": "int",
    "main_gpu": "ptr_int",
    "use_mmap": "ptr_bool",
    "num_thread": "int",
    "draft_num_predict": "int",
}
GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")
GO_FALSE = ("0", "f", "F", "FALSE", "false", "False")
_SEMVER = re.compile(r"^v(0|[1-9]\d*)(\.(0|[1-9]\d*)){0,2}(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
_INT = re.compile(r"^[+-]?[0-9]+$")
_FLOAT = re.compile(r"^[+-]?(inf|infinity|nan|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|0[xX][0-9a-fA-F.]+[pP][+-]?\d+)$", re.I)


class ModelfileError(ValueError):
    """What `ollama create` prints after "Error: "."""


def _unquote(s: str) -> tuple[str, bool]:
    if s[:3] == '"""':
        return (s[3:-3], True) if len(s) >= 6 and s.endswith('"""') else ("", False)
    if s[:1] == '"':
        return (s[1:-1], True) if len(s) >= 2 and s.endswith('"') else ("", False)
    return s, True


def _printable(r: str) -> bool:  # strconv.IsPrint, close enough for Modelfiles
    return r.isprintable() or r == " "


def parse_file(text: str) -> list[tuple[str, str]]:
    """parser/parser.go ParseFile: [(name, args)]; name is "model" for FROM, the parameter name for PARAMETER,
    args is "role: content" for MESSAGE."""
    if text.startswith("\ufeff"):
        text = text[1:]
    cmds: list[tuple[str, str]] = []
    state, buf, name, role, line = "nil", "", "", "", 1
    for r in text:
        if r in "\r\n":
            line += 1
        # parseRuneForState
        space, newline = r in " \t", r in "\r\n"
        if state == "nil":
            nxt, out = ("comment", "") if r == "#" else (("nil", "") if space or newline else ("name", r))
        elif state == "name":
            if r.isascii() and r.isalpha():
                nxt, out = "name", r
            elif space:
                nxt, out = "value", ""
            else:
                raise ModelfileError(f"(line {line}): {ERR_INVALID_COMMAND}")
        elif state == "value":
            nxt, out = ("nil", r) if newline or space else ("value", r)
        elif state in ("parameter", "message"):
            ok = r.isascii() and (r.isalpha() or (state == "parameter" and (r.isdigit() or r == "_")))
            if ok:
                nxt, out = state, r
            elif space:
                nxt, out = "value", ""
            else:
                raise ModelfileError(f"unexpected EOF: {buf}")
        else:  # comment
            nxt, out = ("nil", "") if newline else ("comment", "")
        if nxt != state:
            if state == "name":
                if buf.lower() not in COMMANDS:
                    raise ModelfileError(f"(line {line}): {ERR_INVALID_COMMAND}")
                low = buf.lower()
                if low == "from":
                    name = "model"
                elif low == "parameter":
                    nxt = "parameter"
                elif low == "message":
                    nxt, name = "message", low
                else:
                    name = low
            elif state == "parameter":
                name = buf
            elif state == "message":
                if buf not in ("system", "user", "assistant"):
                    raise ModelfileError(f"(line {line}): {ERR_INVALID_ROLE}")
                role = buf
            elif state == "value":
                value, ok = _unquote(buf.strip())
                if not ok or space:
                    buf += r
                    continue
                if role:
                    value, role = f"{role}: {value}", ""
                cmds.append((name, value))
            buf, state = "", nxt
        if out and _printable(out):
            buf += out
    if state == "value":
        value, ok = _unquote(buf.strip())
        if not ok:
            raise ModelfileError("unexpected EOF")
        cmds.append((name, f"{role}: {value}" if role else value))
    elif state not in ("nil", "comment"):
        raise ModelfileError("unexpected EOF")
    if not any(n == "model" for n, _ in cmds):
        raise ModelfileError("no FROM line")
    return cmds


def format_params(name: str, value: str) -> Any:
    """api/types.go FormatParams for one Modelfile PARAMETER."""
    kind = OPTION_KINDS.get(name)
    if kind is None:
        raise ModelfileError(f"unknown parameter '{name}'")
    if kind == "float":
        if not _FLOAT.match(value):
            raise ModelfileError(f"invalid float value [{value}]")
        return float(value) if not value.lower().startswith(("0x", "+0x", "-0x")) else float.fromhex(value)
    if kind in ("int", "ptr_int"):
        if not _INT.match(value):
            raise ModelfileError(f"invalid int value [{value}]")
        return int(value)
    if kind == "ptr_bool":
        if value not in GO_TRUE + GO_FALSE:
            raise ModelfileError(f"invalid bool value [{value}]")
        return value in GO_TRUE
    return [value]  # slice


def create_request(text: str) -> tuple[dict, list[str]]:
    """parser/parser.go (Modelfile).CreateRequest -> (api.CreateRequest as JSON, warnings printed by the CLI)."""
    req: dict[str, Any] = {}
    params: dict[str, Any] = {}
    messages, licenses, warnings = [], [], []
    for name, args in parse_file(text):
        if name == "model":
            req["from"] = args  # a FROM path that exists becomes `files` upstream; the stand-in has no GGUF files
        elif name in ("adapter", "draft"):
            raise ModelfileError(f"stand-in: {name.upper()} (local model files) is not modelled")
        elif name in ("template", "system", "renderer", "parser"):
            req[name] = args
        elif name == "license":
            licenses.append(args)
        elif name == "requires":
            v = args if args.startswith("v") else "v" + args
            if not _SEMVER.match(v):
                raise ModelfileError("requires must be a valid semver (e.g. 0.14.0)")
            req["requires"] = v[1:]
        elif name == "message":
            role, _, content = args.partition(": ")
            messages.append({"role": role, "content": content})
        elif name in DEPRECATED:
            warnings.append(f"warning: parameter {name} is deprecated")
        else:
            value = format_params(name, args)
            if isinstance(value, list) and isinstance(params.get(name), list):
                params[name] = params[name] + value
            else:
                params[name] = value
    if params:
        req["parameters"] = params
    if messages:
        req["messages"] = messages
    if licenses:
        req["license"] = licenses
    return req, warnings
