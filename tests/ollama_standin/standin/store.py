"""STAND-IN code (qwen3-deploy tests), NOT Ollama: environment, model names and the on-disk model store.

A stand-in "manifest" (one JSON file per model under $OLLAMA_MODELS/manifests/registry.ollama.ai/<ns>/<model>/<tag>)
holds what upstream keeps in the manifest, its config blob and its layers (ollama/ollama v0.33.0-rc2
types/model ConfigV2 and the image.* media types), in one document:
  config  {model_format, model_family, model_families, model_type, file_type, renderer, parser, requires,
           capabilities}
  gguf    {architecture, chat_template}      what upstream reads from the GGUF model layer
  layers  {template, system, params, messages, license}   None/absent = no such layer
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from pathlib import Path

from .rules import env_var

STANDIN_NOTE = "qwen3-deploy stand-in, not the real Ollama"
REGISTRY = "registry.ollama.ai"

# STAND-IN for the tokenizer.chat_template of a Qwen3 GGUF (NOT the real template, which is not available here):
# it contains what Qwen3's official Jinja template contains and upstream's heuristics look for (server/images.go
# chatTemplateHasToolSupport / HasToolRoundTrip / HasThinkingSupport): tools, tool_call(s), tool_response,
# <think> and </think>, and the enable_thinking=false branch that emits the empty think block.
STANDIN_QWEN3_CHAT_TEMPLATE = (
    "{# STAND-IN, not the real Qwen3 chat template #}"
    "{%- if tools %}<|im_start|>system\n# Tools\n<tools>{% for tool in tools %}{{ tool | tojson }}{% endfor %}"
    "</tools>\n<tool_call>...</tool_call><|im_end|>\n{%- endif %}"
    "{%- for message in messages %}{%- if message.role == 'assistant' %}"
    "{%- set content = message.content.split('</think>')[-1] %}"
    "{%- if message.tool_calls %}{%- for tool_call in message.tool_calls %}<tool_call>{% endfor %}{%- endif %}"
    '{%- elif message.role == "tool" %}<tool_response>{{ message.content }}</tool_response>{%- endif %}'
    "{%- endfor %}{%- if add_generation_prompt %}<|im_start|>assistant\n"
    "{%- if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n{%- endif %}{%- endif %}"
)
# Registry-style Go TEMPLATE of a qwen3 tag: upstream's own copy in thinking/template_test.go
# TestInferThinkingTags/"qwen3". That registry tags carry such a TEMPLATE and these PARAMETERs is inferred
# (/work/notes/ollama-thinking.md 1.4), not read from a registry manifest.
REGISTRY_QWEN3_TEMPLATE = """{{- if or .System .Tools .Thinking }}<|im_start|>system
{{- if .System }}
{{ .System }}
{{- end }}
{{- if .Tools }}

# Tools

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
{{- end }}
{{- if .Thinking }}
/think
{{- else }}
/no_think
{{- end }}<|im_end|>
{{ end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 -}}
{{- if eq .Role "user" }}<|im_start|>user
{{ .Content }}<|im_end|>
{{ else if eq .Role "assistant" }}<|im_start|>assistant
{{ if and $last .Thinking }}
<think>{{ .Thinking }}</think>
{{ end }}
{{ if .Content }}{{ .Content }}
{{- else if .ToolCalls }}<tool_call>
{{ range .ToolCalls }}{"name": "{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}
{{ end }}</tool_call>
{{- end }}{{ if not $last }}<|im_end|>
{{ end }}
{{- else if eq .Role "tool" }}<|im_start|>user
<tool_response>
{{ .Content }}
</tool_response><|im_end|>
{{ end }}
{{- if and (ne .Role "assistant") $last }}<|im_start|>assistant
{{ end }}
{{- end }}
"""
REGISTRY_QWEN3_PARAMS = {
    "repeat_penalty": 1,
    "stop": ["<|im_start|>", "<|im_end|>"],
    "temperature": 0.6,
    "top_k": 20,
    "top_p": 0.95,
}


def env_host() -> tuple[str, str, int]:
    raw = env_var("OLLAMA_HOST") or "127.0.0.1:11434"
    scheme, sep, hostport = raw.partition("://")
    if not sep:
        scheme, hostport = "http", raw
    hostport = hostport.rstrip("/")
    if hostport.startswith("["):
        host, _, port = hostport[1:].partition("]")
        port = port.lstrip(":")
    elif ":" in hostport:
        host, _, port = hostport.rpartition(":")
    else:
        host, port = hostport or "127.0.0.1", ""
    return scheme, host or "127.0.0.1", int(port) if port.isdigit() else 11434


def client_base() -> str:
    scheme, host, port = env_host()
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def models_dir() -> Path:
    value = env_var("OLLAMA_MODELS")
    return Path(value) if value else Path.home() / ".ollama" / "models"


def now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def split_name(name: str) -> tuple[str, str, str]:
    """(namespace, model, tag) of an Ollama model name."""
    name = name.strip()
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9._/-]*(:[A-Za-z0-9._-]+)?$", name):
        raise ValueError(f"invalid model name {name!r}")
    base, _, tag = name.partition(":")
    parts = base.split("/")
    if len(parts) >= 3 and "." in parts[0]:
        parts = parts[1:]  # drop a registry host
    namespace, model = (parts[0], parts[1]) if len(parts) == 2 else ("library", parts[-1])
    return namespace, model, tag or "latest"


def display_name(name: str) -> str:
    namespace, model, tag = split_name(name)
    return f"{model}:{tag}" if namespace == "library" else f"{namespace}/{model}:{tag}"


def manifest_path(name: str) -> Path:
    namespace, model, tag = split_name(name)
    return models_dir() / "manifests" / REGISTRY / namespace / model / tag


def load_manifest(name: str) -> dict | None:
    try:
        path = manifest_path(name)
    except ValueError:
        return None
    return json.loads(path.read_text()) if path.is_file() else None


def save_manifest(name: str, manifest: dict) -> None:
    path = manifest_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    tmp.replace(path)


def write_blob(content: bytes) -> tuple[str, int]:
    digest = hashlib.sha256(content).hexdigest()
    blobs = models_dir() / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    (blobs / f"sha256-{digest}").write_bytes(content)
    return f"sha256:{digest}", len(content)


def all_models() -> list[tuple[str, dict, float]]:
    root = models_dir() / "manifests" / REGISTRY
    out = []
    if root.is_dir():
        for path in sorted(root.glob("*/*/*")):
            if path.is_file() and not path.name.endswith(".tmp"):
                namespace, model, tag = path.parts[-3:]
                name = f"{model}:{tag}" if namespace == "library" else f"{namespace}/{model}:{tag}"
                out.append((name, json.loads(path.read_text()), path.stat().st_mtime))
    return out


def pulled_manifest(name: str) -> dict:
    """What a pull of `name` stores. A qwen3* base is modelled like the real registry tag: a GGUF with a Qwen3
    chat_template (thinking + tools) and a registry-style Go TEMPLATE. Stand-in knobs: OLLAMA_STANDIN_BASE_PARSER /
    OLLAMA_STANDIN_BASE_RENDERER give the base a parser/renderer (to exercise `create FROM` inheritance);
    OLLAMA_STANDIN_BASE_CHAT_TEMPLATE=none pulls a GGUF without tokenizer.chat_template."""
    _, model, tag = split_name(name)
    family = re.sub(r"[^a-z0-9]", "", model.lower()) or "qwen3"
    qwen3 = family.startswith("qwen3")
    size = re.search(r"([0-9.]+b)", tag)
    quant = re.search(r"(q[0-9]_[0-9a-z_]+|fp16|bf16)", tag, re.IGNORECASE)
    content = f"STAND-IN weights for {display_name(name)} ({STANDIN_NOTE})\n".encode()
    digest, blob_size = write_blob(content)
    chat_template = STANDIN_QWEN3_CHAT_TEMPLATE if qwen3 else ""
    if env_var("OLLAMA_STANDIN_BASE_CHAT_TEMPLATE") == "none":
        chat_template = ""
    return {
        "standin": True,
        "kind": "pulled",
        "from": "",
        "digest": digest,
        "size": blob_size,
        "config": {
            "model_format": "gguf",
            "model_family": "qwen3" if qwen3 else family,
            "model_families": ["qwen3" if qwen3 else family],
            "model_type": size.group(1).upper() if size else "",
            "file_type": quant.group(1).upper() if quant else "Q4_K_M",
            "renderer": env_var("OLLAMA_STANDIN_BASE_RENDERER"),
            "parser": env_var("OLLAMA_STANDIN_BASE_PARSER"),
            "requires": "",
            "capabilities": [],
        },
        "gguf": {"architecture": "qwen3" if qwen3 else family, "chat_template": chat_template},
        "layers": {
            "template": REGISTRY_QWEN3_TEMPLATE if qwen3 else None,
            "system": None,
            "params": dict(REGISTRY_QWEN3_PARAMS) if qwen3 else None,
            "messages": None,
            "license": [],
        },
    }


def created_manifest(base: dict, base_name: str, req: dict) -> dict:
    """server/create.go CreateHandler + createModel for `FROM <model>`: every base layer is copied; renderer,
    parser, requires, model_format and capabilities are inherited unless the request gives a non-empty value;
    TEMPLATE replaces (when non-empty), SYSTEM replaces when non-empty, PARAMETERs merge key-wise with ours
    winning (setParameters), MESSAGEs replace when given, LICENSEs append; the family comes from the GGUF."""
    bcfg, blayers = base.get("config") or {}, base.get("layers") or {}
    config = {k: (req.get(k) or "") for k in ("renderer", "parser", "requires")}
    for k in ("renderer", "parser", "requires", "model_format"):
        config[k] = config.get(k) or bcfg.get(k, "")
    config["capabilities"] = list(bcfg.get("capabilities") or [])
    arch = (base.get("gguf") or {}).get("architecture", "")
    config.update(
        model_family=arch,
        model_families=[arch],
        model_type=bcfg.get("model_type", ""),
        file_type=bcfg.get("file_type", ""),
    )
    layers = dict(blayers)
    if req.get("template"):
        layers["template"] = req["template"]
    if req.get("system"):
        layers["system"] = req["system"]
    params = dict(req.get("parameters") or {})
    for k, v in (blayers.get("params") or {}).items():
        params.setdefault(k, v)
    layers["params"] = params or blayers.get("params")
    if req.get("messages"):
        layers["messages"] = req["messages"]
    lic = req.get("license")
    layers["license"] = list(blayers.get("license") or []) + (
        [lic] if isinstance(lic, str) and lic else list(lic or []) if isinstance(lic, list) else []
    )
    return {
        "standin": True,
        "kind": "created",
        "from": display_name(base_name),
        "digest": base.get("digest", ""),
        "size": base.get("size", 0),
        "config": config,
        "gguf": dict(base.get("gguf") or {}),
        "layers": layers,
    }
