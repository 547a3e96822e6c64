"""Check, from inside a deployed host, that an Ollama model does not think for clients that leave `think` out.

Used by end-to-end tests against a real host (real Ollama, or the stand-in in tests/ollama_standin). Requests go
out with `curl` on the host itself (Ollama binds 127.0.0.1), through `run_on_host(command)`, a callable that runs a
POSIX `sh` command line on the host and returns a CompletedProcess with text stdout, e.g.

    findings = check_no_thinking(lambda c: host.exec("sh", "-c", c, timeout=330), "http://127.0.0.1:11434", model)
    assert findings["ok"], findings["problems"]

What upstream Ollama does and therefore what is checked (ollama/ollama v0.33.0-rc2 server/routes.go ChatHandler /
GenerateHandler, openai/openai.go FromChatRequest):
- /api/show `capabilities` must not list `thinking`: a model that lists it gets `think: true` whenever a request
  omits `think` (Open WebUI, curl, every /v1 client that sends no reasoning effort);
- /api/chat (non-streamed and streamed, as Open WebUI sends it), /api/generate and /v1/chat/completions without
  `think`/`reasoning_effort` must return no thinking: no `thinking` / `reasoning` / `reasoning_content` field and
  no `<think>` in the content;
- optional: the prompt Ollama renders for a chat without `think` ends with the empty think block
  (`_debug_render_only`, Ollama >= 0.11.5).
`check_think_rejected` is the positive control: asking for thinking gets HTTP 400
`"<model>" does not support thinking` (on /v1 inside an OpenAI error object).
"""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Callable
from typing import Any

RunOnHost = Callable[[str], subprocess.CompletedProcess]
EMPTY_THINK_BLOCK = "<think>\n\n</think>\n\n"
STATUS_MARK = "\n__HTTP_STATUS__:"
MESSAGES = [{"role": "user", "content": "Say hello in five words."}]


def curl_command(base_url: str, path: str, body: dict, timeout: int) -> str:
    """The sh command line for one POST; stdout is the body followed by STATUS_MARK and the HTTP status."""
    return (
        f"curl -sS -N -m {int(timeout)} -X POST -H 'Content-Type: application/json' "
        "-w '\\n__HTTP_STATUS__:%{http_code}' "  # curl turns the \n into a newline
        f"--data-binary {shlex.quote(json.dumps(body))} {shlex.quote(base_url.rstrip('/') + path)}"
    )


def parse_reply(stdout: str) -> tuple[int, list[Any], str]:
    """(HTTP status, decoded JSON documents, error text) of curl_command's output. Handles one JSON object,
    NDJSON lines (Ollama streaming) and SSE `data:` lines (OpenAI streaming). Status 0: no HTTP answer."""
    body, sep, status_text = stdout.rpartition(STATUS_MARK)
    if not sep:
        return 0, [], stdout.strip() or "no reply"
    status = int(status_text.strip() or 0) if status_text.strip().isdigit() else 0
    docs: list[Any] = []
    error = ""
    lines = [line for line in body.splitlines() if line.strip()]
    try:
        if any(line.startswith("data: ") for line in lines):
            docs = [json.loads(line[6:]) for line in lines if line.startswith("data: ") and line[6:] != "[DONE]"]
        elif len(lines) > 1:
            docs = [json.loads(line) for line in lines]
        elif lines:
            docs = [json.loads(lines[0])]
    except ValueError as exc:
        error = f"undecodable reply: {exc}: {body[:300]!r}"
    for doc in docs:
        if isinstance(doc, dict) and doc.get("error"):
            err = doc["error"]
            error = err.get("message", json.dumps(err)) if isinstance(err, dict) else str(err)
    return status, docs, error


def texts(api: str, docs: list[Any]) -> tuple[str, str]:
    """(thinking, content) accumulated over the documents of one reply."""
    thinking, content = [], []
    for doc in docs:
        if not isinstance(doc, dict):
            continue
        if api.startswith("api/chat"):
            msg = doc.get("message") or {}
            thinking.append(msg.get("thinking") or "")
            content.append(msg.get("content") or "")
        elif api.startswith("api/generate"):
            thinking.append(doc.get("thinking") or "")
            content.append(doc.get("response") or "")
        else:
            for choice in doc.get("choices") or []:
                part = choice.get("message") or choice.get("delta") or {}
                thinking.append(part.get("reasoning") or part.get("reasoning_content") or "")
                content.append(part.get("content") or "")
    return "".join(thinking), "".join(content)


def _post(run_on_host: RunOnHost, base_url: str, path: str, body: dict, timeout: int) -> tuple[int, list, str]:
    proc = run_on_host(curl_command(base_url, path, body, timeout))
    status, docs, error = parse_reply(proc.stdout or "")
    if status == 0 and not error:
        error = (proc.stderr or "").strip() or f"curl exit {proc.returncode}"
    elif status == 0:
        error = f"{error}; {(proc.stderr or '').strip()}".strip("; ")
    return status, docs, error


def check_no_thinking(
    run_on_host: RunOnHost,
    base_url: str,
    model: str,
    *,
    num_predict: int = 32,
    timeout: int = 300,
    render_check: bool = True,
) -> dict:
    """Findings per API for requests that leave `think` out, plus {"ok": bool, "problems": [str]}."""
    out: dict[str, Any] = {}
    problems: list[str] = []

    status, docs, error = _post(run_on_host, base_url, "/api/show", {"model": model}, timeout)
    caps = (docs[0] or {}).get("capabilities") if docs and isinstance(docs[0], dict) else None
    out["api/show"] = {"status": status, "capabilities": caps, "error": error or None}
    if status != 200 or caps is None:
        problems.append(f"api/show: HTTP {status} {error or 'no capabilities in the reply'}")
    elif "thinking" in caps:
        problems.append(f"api/show: capabilities {caps} list thinking")

    options = {"num_predict": num_predict}
    requests = {
        "api/chat": ("/api/chat", {"model": model, "messages": MESSAGES, "stream": False, "options": options}),
        "api/chat stream": ("/api/chat", {"model": model, "messages": MESSAGES, "options": options}),
        "api/generate": (
            "/api/generate",
            {"model": model, "prompt": MESSAGES[0]["content"], "stream": False, "options": options},
        ),
        "v1/chat/completions": (
            "/v1/chat/completions",
            {"model": model, "messages": MESSAGES, "max_tokens": num_predict},
        ),
        "v1/chat/completions stream": (
            "/v1/chat/completions",
            {"model": model, "messages": MESSAGES, "stream": True, "max_tokens": num_predict},
        ),
    }
    for api, (path, body) in requests.items():
        status, docs, error = _post(run_on_host, base_url, path, body, timeout)
        thinking, content = texts(api, docs)
        finding = {
            "status": status,
            "thinking": thinking,
            "content": content,
            "error": error or None,
            "think_tag_in_content": "<think>" in content or "</think>" in content,
        }
        out[api] = finding
        if status != 200 or error:
            problems.append(f"{api}: HTTP {status} {error}".rstrip())
        if thinking.strip():
            problems.append(f"{api}: returned thinking {thinking[:80]!r}")
        if finding["think_tag_in_content"]:
            problems.append(f"{api}: think tags in the content {content[:80]!r}")

    if render_check:
        body = {"model": model, "messages": MESSAGES, "stream": False, "_debug_render_only": True}
        status, docs, error = _post(run_on_host, base_url, "/api/chat", body, timeout)
        rendered = ((docs[0] or {}).get("_debug_info") or {}).get("rendered_template") if docs else None
        out["api/chat render"] = {"status": status, "rendered_tail": (rendered or "")[-80:], "error": error or None}
        if rendered is None:
            problems.append(f"api/chat render: HTTP {status} {error or 'no _debug_info.rendered_template'}")
        elif not rendered.endswith(EMPTY_THINK_BLOCK):
            problems.append(f"api/chat render: prompt does not end with the empty think block: {rendered[-60:]!r}")

    out["ok"] = not problems
    out["problems"] = problems
    return out


def check_think_rejected(run_on_host: RunOnHost, base_url: str, model: str, *, timeout: int = 300) -> dict:
    """Positive control: explicit thinking requests get HTTP 400 `"<model>" does not support thinking`."""
    expected = f"{json.dumps(model)} does not support thinking"
    requests = {
        "api/chat": ("/api/chat", {"model": model, "messages": MESSAGES, "stream": False, "think": True}),
        "api/generate": ("/api/generate", {"model": model, "prompt": "hi", "stream": False, "think": True}),
        "v1/chat/completions": (
            "/v1/chat/completions",
            {"model": model, "messages": MESSAGES, "reasoning_effort": "high"},
        ),
    }
    out: dict[str, Any] = {}
    problems = []
    for api, (path, body) in requests.items():
        status, _docs, error = _post(run_on_host, base_url, path, body, timeout)
        out[api] = {"status": status, "error": error or None}
        if status != 400 or error != expected:
            problems.append(f"{api}: expected HTTP 400 {expected!r}, got HTTP {status} {error!r}")
    out["ok"] = not problems
    out["problems"] = problems
    return out
