"""STAND-IN code (qwen3-deploy tests), NOT Ollama: ports of Ollama's template package and thinking heuristics.

Upstream: github.com/ollama/ollama at v0.33.0-rc2 (commit fb30760996871fa9460115c753afd2c60d4ab0f7, the newest
snapshot available here; the project pins 0.34.4, which is not in that snapshot). Each function names the file and
function it ports.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from . import gotemplate as gt
from .gotemplate_exec import GoList, GoMap, GoStruct, JStruct, execute, go_json

DEFAULT_TEMPLATE = "{{ .Prompt }}"  # template/template.go: DefaultTemplate


def identifiers(n: gt.Node | None) -> list[str]:
    """template/template.go Identifiers: field and variable identifiers (not range/assign declarations)."""
    if isinstance(n, gt.ListNode):
        return [i for c in n.nodes for i in identifiers(c)]
    if isinstance(n, (gt.TemplateNode, gt.ActionNode)):
        return identifiers(n.pipe)
    if isinstance(n, gt.BranchNode):
        return identifiers(n.pipe) + identifiers(n.list) + identifiers(n.else_list)
    if isinstance(n, gt.PipeNode):
        return [i for c in n.cmds for a in c.args for i in identifiers(a)]
    if isinstance(n, (gt.FieldNode, gt.VariableNode)):
        return list(n.ident)
    return []


@dataclass
class Template:
    """template/template.go Template: the parsed tree plus the raw text."""

    raw: str
    root: gt.ListNode

    @classmethod
    def parse(cls, s: str) -> Template:
        """template/template.go Parse: append {{ .Response }} when the template uses neither Messages nor Response."""
        root = gt.parse(s)
        t = cls(s, root)
        v = t.vars()
        if "messages" not in v and "response" not in v:
            root.nodes.append(gt.ActionNode(gt.PipeNode(cmds=[gt.CommandNode([gt.FieldNode(["Response"])])])))
        return t

    def vars(self) -> list[str]:
        """template/template.go Vars: lower-cased, sorted, unique identifiers of the root's nodes."""
        return sorted({i.lower() for n in self.root.nodes for i in identifiers(n)})

    def execute(
        self,
        messages: list[dict],
        tools: list[dict] | None = None,
        *,
        prompt: str = "",
        suffix: str = "",
        think: bool = False,
        think_level: str = "",
        is_think_set: bool = False,
    ) -> str:
        """template/template.go (*Template).Execute: the value map for a .Messages template, or the legacy
        Prompt/Response loop (templates without .Messages) with deleteNode cutting everything after .Response."""
        think_vals = {"Think": think, "ThinkLevel": think_level, "IsThinkSet": is_think_set}
        if prompt and suffix:
            return execute(self.root, {"Prompt": prompt, "Suffix": suffix, "Response": "", **think_vals})
        system, msgs = collate(messages)
        if "messages" in self.vars():
            data = {
                "System": system,
                "Messages": convert_messages(msgs),
                "Tools": convert_tools(tools),
                "Response": "",
                **think_vals,
            }
            return execute(self.root, data)
        out: list[str] = []
        system, prompt_, response = "", "", ""

        def run() -> None:
            nonlocal system, prompt_, response
            out.append(execute(self.root, {"System": system, "Prompt": prompt_, "Response": response, **think_vals}))
            system, prompt_, response = "", "", ""

        for m in msgs:
            role = m.get("role")
            if role == "system":
                if prompt_ or response:
                    run()
                system = m.get("content", "")
            elif role == "user":
                if response:
                    run()
                prompt_ = m.get("content", "")
            elif role == "assistant":
                response = m.get("content", "")
        cut = delete_after_response(copy.deepcopy(self.root))
        out.append(execute(cut, {"System": system, "Prompt": prompt_, "Response": response, **think_vals}))
        return "".join(out)


def delete_after_response(root: gt.ListNode) -> gt.ListNode:
    """template/template.go deleteNode with Execute's predicate: keep the first .Response field, drop what follows
    (branch pipelines are not walked, as upstream)."""
    state = {"cut": False}

    def fn(n: gt.Node) -> bool:
        if isinstance(n, gt.FieldNode) and "Response" in n.ident:
            state["cut"] = True
            return False
        return state["cut"]

    def walk(n: gt.Node | None) -> gt.Node | None:
        if n is None or fn(n):
            return None
        if isinstance(n, gt.ListNode):
            n.nodes = [c for c in (walk(c) for c in n.nodes) if c is not None]
        elif isinstance(n, gt.BranchNode):
            n.list = walk(n.list) or gt.ListNode()
            if n.else_list is not None:
                n.else_list = walk(n.else_list) or gt.ListNode()
        elif isinstance(n, gt.ActionNode):
            pipe = walk(n.pipe)
            if pipe is None:
                return None
            n.pipe = pipe
        elif isinstance(n, gt.PipeNode):
            cmds = []
            for c in n.cmds:
                args = [a for a in (walk(a) for a in c.args) if a is not None]
                if not args:
                    return None
                c.args = args
                cmds.append(c)
            if not cmds:
                return None
            n.cmds = cmds
        return n

    return walk(root) or gt.ListNode()


def collate(msgs: list[dict]) -> tuple[str, list[dict]]:
    """template/template.go collate: join system messages; merge consecutive same-role messages (not tool)."""
    system: list[str] = []
    out: list[dict] = []
    for m in msgs:
        if m.get("role") == "system":
            system.append(m.get("content", ""))
        if out and out[-1].get("role") == m.get("role") and m.get("role") != "tool":
            out[-1] = {**out[-1], "content": out[-1].get("content", "") + "\n\n" + m.get("content", "")}
        else:
            out.append(dict(m))
    return "\n\n".join(system), out


def _stringer_map(d: dict | None, json_form: Any = None) -> GoMap:
    m = GoMap(d or {})
    m.string = lambda: go_json(json_form if json_form is not None else dict(m)) if d is not None else "{}"
    return m


def _omit(pairs: list[tuple[str, Any, bool]]) -> JStruct:
    """Struct JSON in field order; (name, value, omitempty)."""
    return JStruct((k, v) for k, v, omitempty in pairs if not (omitempty and v in (None, "", [], {})))


def _tool_property(p: dict) -> JStruct:
    """api/types.go ToolProperty field order (anyOf, type, items, description, enum, properties, required)."""
    return _omit(
        [
            ("anyOf", [_tool_property(x) for x in p.get("anyOf") or []], True),
            ("type", p.get("type"), True),
            ("items", p.get("items"), True),
            ("description", p.get("description"), True),
            ("enum", p.get("enum"), True),
            ("properties", p.get("properties"), True),
            ("required", p.get("required"), True),
        ]
    )


def convert_tools(tools: list[dict] | None) -> GoList:
    """template/template.go convertToolsForTemplate: templateTool structs; the slice and each tool print as JSON
    (a nil slice prints "null"), the Function struct has no String() and prints as a Go struct, Properties prints
    as JSON."""
    out = GoList()
    if tools is None:
        out.string = lambda: "null"
        return out
    for tool in tools:
        fn = tool.get("function") or {}
        params = fn.get("parameters") or {}
        props = {k: _tool_property(v) for k, v in (params.get("properties") or {}).items()}
        pjson = _omit(
            [
                ("type", params.get("type", ""), False),
                ("$defs", params.get("$defs"), True),
                ("items", params.get("items"), True),
                ("required", params.get("required"), True),
                ("properties", props or None, False),
            ]
        )
        pstruct = GoStruct(
            "templateToolFunctionParameters",
            {
                "Type": params.get("type", ""),
                "Defs": params.get("$defs"),
                "Items": params.get("items"),
                "Required": params.get("required") or [],
                "Properties": _stringer_map(params.get("properties"), props),
            },
            pjson,
        )
        fjson = JStruct(name=fn.get("name", ""), description=fn.get("description", ""), parameters=pjson)
        fstruct = GoStruct(
            "templateToolFunction",
            {"Name": fn.get("name", ""), "Description": fn.get("description", ""), "Parameters": pstruct},
            fjson,
        )
        tjson = _omit(
            [("type", tool.get("type", ""), False), ("items", tool.get("items"), True), ("function", fjson, False)]
        )
        tstruct = GoStruct(
            "templateTool", {"Type": tool.get("type", ""), "Items": tool.get("items"), "Function": fstruct}, tjson
        )
        tstruct.string = lambda j=tjson: go_json(j)
        out.append(tstruct)
    out.string = lambda: go_json([t.json_form for t in out])
    return out


def convert_messages(msgs: list[dict]) -> list[GoStruct]:
    """template/template.go convertMessagesForTemplate: *templateMessage structs; tool call arguments print as
    JSON."""
    out = []
    for m in msgs:
        calls = []
        for i, tc in enumerate(m.get("tool_calls") or []):
            f = tc.get("function") or {}
            args = f.get("arguments") or {}
            if isinstance(args, str):
                args = json.loads(args or "{}")
            fn = GoStruct(
                "templateToolCallFunction",
                {"Index": f.get("index", i), "Name": f.get("name", ""), "Arguments": _stringer_map(args)},
            )
            calls.append(GoStruct("templateToolCall", {"ID": tc.get("id", ""), "Function": fn}))
        out.append(
            GoStruct(
                "templateMessage",
                {
                    "Role": m.get("role", ""),
                    "Content": m.get("content", ""),
                    "Thinking": m.get("thinking", ""),
                    "Images": m.get("images") or [],
                    "ToolCalls": calls,
                    "ToolName": m.get("tool_name", ""),
                    "ToolCallID": m.get("tool_call_id", ""),
                },
                pointer=True,
            )
        )
    return out


# ---------------------------------------------------------------- thinking/template.go
def _children(n: gt.Node) -> list[gt.Node]:
    """thinking/template.go templateVisit: the children it descends into."""
    if isinstance(n, gt.ListNode):
        return list(n.nodes)
    if isinstance(n, gt.BranchNode):
        return [c for c in (n.pipe, n.list, n.else_list) if c is not None]
    if isinstance(n, (gt.ActionNode, gt.TemplateNode)):
        return [n.pipe] if n.pipe is not None else []
    if isinstance(n, gt.PipeNode):
        return list(n.cmds)
    if isinstance(n, gt.CommandNode):
        return list(n.args)
    return []


def _range_uses_field(r: gt.RangeNode, name: str) -> bool:
    """thinking/template.go rangeUsesField: a FieldNode whose first identifier is `name` in the range's pipeline."""
    stack: list[gt.Node] = [r.pipe] if r.pipe else []
    while stack:
        n = stack.pop()
        if isinstance(n, gt.FieldNode) and n.ident[0] == name:
            return True
        stack.extend(_children(n))
    return False


def infer_tags(root: gt.ListNode) -> tuple[str, str]:
    """thinking/template.go InferTags: for each FieldNode .Thinking whose nearest enclosing range iterates over a
    .Messages field, take the nearest enclosing list's first/last node when it is text (trimmed); last one wins."""
    tags = ["", ""]

    def visit(n: gt.Node, ancestors: list[gt.Node]) -> None:
        ancestors = [*ancestors, n]
        if isinstance(n, gt.FieldNode) and n.ident and n.ident[0] == "Thinking":
            rng = next((a for a in reversed(ancestors) if isinstance(a, gt.RangeNode)), None)
            if rng is not None and _range_uses_field(rng, "Messages"):
                lst = next((a for a in reversed(ancestors) if isinstance(a, gt.ListNode)), None)
                if lst is not None:
                    if isinstance(lst.nodes[0], gt.TextNode):
                        tags[0] = lst.nodes[0].text.strip()
                    if isinstance(lst.nodes[-1], gt.TextNode):
                        tags[1] = lst.nodes[-1].text.strip()
        for c in _children(n):
            visit(c, ancestors)

    visit(root, [])
    return tags[0], tags[1]


# ---------------------------------------------------------------- thinking/parser.go (whole-output form)
def split_thinking(output: str, opening: str, closing: str, prompt: str) -> tuple[str, str]:
    """thinking/parser.go Parser.AddContent over a complete output; Chat/GenerateHandler first feed the opening tag
    when the trimmed prompt ends with it (server/routes.go). Returns (thinking, content)."""
    if prompt.strip().endswith(opening):
        output = opening + output
    trimmed = output.lstrip()
    if not trimmed.startswith(opening):
        return "", output  # thinking skipped: the untrimmed output is content
    after = opening.join(trimmed.split(opening)[1:]).lstrip()
    if closing not in after:
        return after, ""
    thinking, _, rest = after.partition(closing)
    return thinking, rest.lstrip()
