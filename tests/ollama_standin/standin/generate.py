"""STAND-IN code (qwen3-deploy tests), NOT Ollama: prompt rendering per route, the fake model, and the split of its
output into thinking/content the way the upstream route would split it.

Upstream rules (ollama/ollama v0.33.0-rc2, commit fb30760996871fa9460115c753afd2c60d4ab0f7):
- server/routes.go ChatHandler: native route (GGUF chat template through llama-server) when chatModeForModel says
  so; otherwise chatPrompt -> server/prompt.go renderPrompt (a RENDERER wins over the TEMPLATE; else
  Template.Execute with Think/ThinkLevel/IsThinkSet from the gated think value); filterThinkTags for family qwen3;
  then the builtin PARSER if ParserForName knows it, else the generic thinking.Parser only when think is truthy and
  InferTags found both tags (no tag parsing otherwise: think tags stay in content).
- server/routes.go GenerateHandler: the same for a non-raw prompt without suffix/template (messages = system +
  Modelfile MESSAGEs + user prompt); raw prompts bypass the template.
- model/parsers/qwen3.go Qwen3Parser: with thinking support and think enabled (nil -> defaultThinking) it starts
  in CollectingThinking (one leading "<think>" stripped, thinking ends at "</think>"), else everything is content.
- llm/llama_server.go llamaServerChatTemplateKwargs: nil -> no kwargs (the template's default), else
  {"enable_thinking": think.Bool()}.
STAND-IN models (no upstream code to port, so labelled here):
- the GGUF chat template of a pulled qwen3 base is simulated as Qwen3's official Jinja template behaves: ChatML, and
  the empty think block "<think>\\n\\n</think>\\n\\n" after the generation prompt only for enable_thinking=false;
  llama-server's reasoning extraction is simulated as: a leading <think>...</think> goes to thinking (inferred);
- the fake model: it thinks iff the rendered prompt does NOT end with the empty think block (like Qwen3); then it
  emits "<think>\\n...\\n</think>\\n\\n" first (without the opening tag when the prompt already ends in "<think>").
"""

from __future__ import annotations

import re

from . import rules
from .ollama_template import split_thinking

EMPTY_THINK_BLOCK = "<think>\n\n</think>\n\n"
WORDS = [
    "This",
    " is",
    " a",
    " stand",
    "-in",
    " reply",
    " from",
    " the",
    " fake",
    " Ollama",
    ",",
    " not",
    " a",
    " real",
    " model",
    ".",
]
THOUGHTS = ["Let", " me", " think", " about", " this", " (stand", "-in", " thinking", ")", "."]


def filter_think_tags(m: rules.Model, msgs: list[dict]) -> list[dict]:
    """server/routes.go filterThinkTags: family qwen3 (or deepseek-r1): assistant messages before the last user
    message lose a leading <think>...</think> block."""
    if m.cfg("model_family") != "qwen3" and not m.name.split(":")[0].endswith("deepseek-r1"):
        return msgs
    last_user = max((i for i, x in enumerate(msgs) if x.get("role") == "user"), default=-1)
    out = []
    for i, x in enumerate(msgs):
        if x.get("role") == "assistant" and i < last_user:
            out.append({**x, "content": split_thinking(x.get("content", ""), "<think>", "</think>", "")[1]})
        else:
            out.append(x)
    return out


def chat_template_kwargs(think) -> dict | None:
    """llm/llama_server.go llamaServerChatTemplateKwargs."""
    if think is None:
        return None
    kwargs: dict = {"enable_thinking": rules.think_bool(think)}
    if isinstance(think, str) and think:
        kwargs["reasoning_effort"] = think
    return kwargs


def native_prompt(msgs: list[dict], think) -> str:
    """STAND-IN for llama-server applying a Qwen3 GGUF chat template (see module docstring)."""
    kwargs = chat_template_kwargs(think)
    text = "".join(f"<|im_start|>{x.get('role')}\n{x.get('content', '')}<|im_end|>\n" for x in msgs)
    text += "<|im_start|>assistant\n"
    if kwargs is not None and kwargs["enable_thinking"] is False:
        text += EMPTY_THINK_BLOCK
    return text


def render(m: rules.Model, msgs: list[dict], tools: list[dict] | None, think) -> tuple[str, str]:
    """(route, prompt) for a chat-like request with the gated think value."""
    if rules.chat_mode(m) == "native":
        return "native", native_prompt(msgs, think)
    if m.cfg("renderer"):  # server/prompt.go renderPrompt -> renderers.RenderWithRenderer
        raise rules.RequestError(500, f"stand-in: renderer {m.cfg('renderer')!r} is not modelled")
    prompt = m.template.execute(
        msgs,
        tools,
        think=rules.think_bool(think),
        think_level=rules.think_string(think),
        is_think_set=think is not None,
    )
    return "rendered", prompt


def fake_output(prompt: str, n: int) -> tuple[list[str], str, int]:
    """STAND-IN model: (thought tokens, raw output text, eval token count)."""
    content = "".join(WORDS[i % len(WORDS)] for i in range(n))
    if prompt.endswith(EMPTY_THINK_BLOCK):
        return [], content, n
    thoughts = "".join(THOUGHTS)
    opened = prompt.rstrip().endswith("<think>")
    raw = ("" if opened else "<think>\n") + thoughts + "\n</think>\n\n" + content
    return THOUGHTS, raw, n + len(THOUGHTS) + 4


def qwen3_parser(raw: str, thinking_support: bool, think) -> tuple[str, str]:
    """model/parsers/qwen3.go Qwen3Parser over a whole output (tool calls are not modelled: the fake model emits
    none). Returns (thinking, content)."""
    enabled = rules.think_bool(think) if think is not None else thinking_support  # defaultThinking
    if not (thinking_support and enabled):
        return "", raw.rstrip()  # CollectingContent; trailing whitespace is held back and never flushed
    acc = raw.lstrip()
    if acc.startswith("<think>"):
        acc = acc[len("<think>") :].lstrip()
    if "</think>" not in acc:
        return acc.rstrip(), ""
    thinking, _, rest = acc.partition("</think>")
    return thinking.rstrip(), rest.lstrip().rstrip()


def split(m: rules.Model, route: str, think, prompt: str, raw: str) -> tuple[str, str]:
    """(thinking, content) of the model's raw output as the route would return it."""
    if route == "native":  # STAND-IN for llama-server's reasoning extraction (inferred)
        body = raw.lstrip()
        if body.startswith("<think>") and "</think>" in body:
            thinking, _, rest = body[len("<think>") :].partition("</think>")
            return thinking.strip(), rest.lstrip()
        return "", raw
    parser = m.cfg("parser")
    if parser in rules.PARSERS:
        if parser == "passthrough":
            return "", raw
        return qwen3_parser(raw, rules.PARSERS[parser][1], think)  # other parsers: Qwen3-like approximation
    opening, closing = rules.infer_tags(m.template.root)
    if rules.think_bool(think) and opening and closing:
        return split_thinking(raw, opening, closing, prompt)
    return "", raw


def pieces(text: str) -> list[str]:
    """Stream chunks of a text (word-sized, whitespace kept)."""
    return re.findall(r"\s*\S+|\s+$", text) if text else []
