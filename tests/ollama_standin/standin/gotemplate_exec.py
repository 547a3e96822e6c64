"""STAND-IN code (qwen3-deploy tests), NOT Ollama: execution half of the Go text/template port (gotemplate.py).

Ported from Go's text/template (go1.19.8 here, /usr/lib/go-1.19/src/text/template):
- exec.go: walk (Text/Action/If/Range/With, variable scopes: a control structure pops the variables declared inside
  it; "$x = v" sets the nearest $x), walkRange (one var: element; two vars: index, element; maps in key order;
  break/continue), evalPipeline (each command gets the previous result as last argument), evalField (a field of a
  nil value is the zero value; of a map, the key, missing -> zero because Ollama parses with missingkey=zero; of a
  struct, an unknown field is an error), isTrue, printValue ("<no value>" for nil; String() methods win);
- funcs.go: and/or (short-circuit, return the deciding operand), not, len, index, slice, eq/ne/lt/le/gt/ge
  (basicKind comparison, "incompatible types for comparison"), print/println/printf (subset).
Go values are modelled as: map -> dict, slice -> list, struct -> GoStruct, nil -> None; GoStruct/GoList/GoMap may
carry a String() (the stringer) and a json.Marshal form, as Ollama's template types do (template/template.go).
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Callable
from typing import Any

from .gotemplate import (
    ActionNode,
    BoolNode,
    BreakNode,
    ChainNode,
    CommandNode,
    ContinueNode,
    DotNode,
    FieldNode,
    IdentifierNode,
    IfNode,
    ListNode,
    NilNode,
    Node,
    NumberNode,
    PipeNode,
    RangeNode,
    StringNode,
    TemplateError,
    TemplateNode,
    TextNode,
    VariableNode,
    WithNode,
)


class GoStruct:
    """A Go struct value: fields in declaration order; `string` is its String() method if it has one; `pointer`
    when the template sees a *T (fmt prints &{...})."""

    def __init__(self, type_name: str, fields: dict[str, Any], json_form: Any = None, string=None, pointer=False):
        self.type_name, self.fields, self.json_form, self.string = type_name, fields, json_form, string
        self.pointer = pointer


class JStruct(dict):
    """The json.Marshal form of a Go struct: keys stay in field order (plain dicts, Go maps, are sorted)."""


class GoList(list):
    """A Go slice type with a String() method (Ollama's templateTools)."""

    string: Callable[[], str] | None = None


class GoMap(dict):
    """A Go map type with a String() method (Ollama's templateArgs / templateProperties)."""

    string: Callable[[], str] | None = None


def go_json(value: Any) -> str:
    """encoding/json.Marshal: map keys sorted, HTML characters escaped (<, >, & -> \\u003c ...), compact."""

    def conv(v):
        if isinstance(v, GoStruct):
            return conv(v.json_form)
        if isinstance(v, JStruct):
            return {str(k): conv(x) for k, x in v.items()}
        if isinstance(v, dict):
            return {str(k): conv(v[k]) for k in sorted(v)}
        if isinstance(v, list):
            return [conv(x) for x in v]
        return v

    text = json.dumps(conv(value), separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


def is_true(v: Any) -> bool:
    if v is None:
        return False
    if isinstance(v, GoStruct):
        return True
    if isinstance(v, (bool, int, float)):
        return v != 0
    if isinstance(v, (str, list, dict, tuple)):
        return len(v) > 0
    return True


def fmt_value(v: Any, depth: int = 0) -> str:
    """fmt.Sprint of a value (what printValue writes), for the kinds the stand-in models."""
    if v is None:
        return "<no value>" if depth == 0 else "<nil>"
    if getattr(v, "string", None):
        return v.string()
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v) if v != int(v) or abs(v) >= 1e21 else str(int(v))
    if isinstance(v, GoStruct):
        body = "{" + " ".join(fmt_value(x, depth + 1) for x in v.fields.values()) + "}"
        return "&" + body if v.pointer and depth == 0 else body
    if isinstance(v, list):
        return "[" + " ".join(fmt_value(x, depth + 1) for x in v) + "]"
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{fmt_value(v[k], depth + 1)}" for k in sorted(v)) + "]"
    return str(v)


def _kind(v: Any) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    return "invalid"


def _eq(a: Any, *others: Any) -> bool:
    if not others:
        raise TemplateError("error calling eq: missing argument for comparison")
    for b in others:
        ka, kb = _kind(a), _kind(b)
        if ka != kb:
            if a is not None and b is not None:
                raise TemplateError("error calling eq: incompatible types for comparison")
            if a is None and b is None:
                return True
            continue
        if ka == "invalid":
            if a is b or a == b:
                return True
            continue
        if a == b:
            return True
    return False


def _lt(a: Any, b: Any) -> bool:
    ka, kb = _kind(a), _kind(b)
    if ka != kb or ka in ("invalid", "bool"):
        raise TemplateError("error calling lt: incompatible types for comparison")
    return a < b


def _index(item: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(item, dict):
            item = item.get(key)
        elif isinstance(item, (list, str)):
            if not isinstance(key, int) or not 0 <= key < len(item):
                raise TemplateError(f"error calling index: index out of range: {key}")
            item = item[key]
        else:
            raise TemplateError(f"error calling index: can't index item of type {type(item).__name__}")
    return item


def _slice(item: Any, *idx: int) -> Any:
    if item is None:
        raise TemplateError("error calling slice: slice of untyped nil")
    if not isinstance(item, (list, str)):
        raise TemplateError("error calling slice: can't slice item")
    bounds = [0, len(item)]
    for i, x in enumerate(idx[:2]):
        if not 0 <= x <= len(item):
            raise TemplateError(f"error calling slice: index out of range: {x}")
        bounds[i] = x
    if bounds[0] > bounds[1]:
        raise TemplateError(f"error calling slice: invalid slice index: {bounds[0]} > {bounds[1]}")
    out = item[bounds[0] : bounds[1]]
    return type(item)(out) if isinstance(item, GoList) else out


def _len(item: Any) -> int:
    if item is None:
        raise TemplateError("error calling len: len of nil pointer")
    if isinstance(item, (list, str, dict)):
        return len(item)
    raise TemplateError("error calling len: len of type")


def _fmt_arg(v: Any) -> str:
    """fmt's %v of one operand (a nil operand is "<nil>", not printValue's "<no value>")."""
    return "<nil>" if v is None else fmt_value(v)


def _sprint(*args: Any) -> str:
    out = ""
    for i, a in enumerate(args):
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out += " "
        out += _fmt_arg(a)
    return out


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "not": lambda a: not is_true(a),
    "len": _len,
    "index": _index,
    "slice": _slice,
    "eq": _eq,
    "ne": lambda a, b: not _eq(a, b),
    "lt": _lt,
    "le": lambda a, b: _lt(a, b) or _eq(a, b),
    "gt": lambda a, b: not (_lt(a, b) or _eq(a, b)),
    "ge": lambda a, b: not _lt(a, b),
    "print": _sprint,
    "println": lambda *a: " ".join(_fmt_arg(x) for x in a) + "\n",
    "printf": lambda f, *a: f.replace("%v", "%s").replace("%d", "%s") % tuple(_fmt_arg(x) for x in a),  # subset
    # Ollama's template.funcs (template/template.go, v0.33.0-rc2)
    "json": go_json,
    "currentDate": lambda *a: _dt.date.today().strftime("%Y-%m-%d"),
    "yesterdayDate": lambda *a: (_dt.date.today() - _dt.timedelta(days=1)).strftime("%Y-%m-%d"),
    "toTypeScriptType": lambda v: "any",  # STAND-IN simplification: upstream maps api.ToolProperty types
}


class Executor:
    """exec.go state: the variable stack and the output."""

    def __init__(self, data: Any):
        self.vars: list[list[Any]] = [["$", data]]
        self.out: list[str] = []

    def walk(self, dot: Any, node: Node | None) -> None:
        if node is None:
            return
        if isinstance(node, ListNode):
            for n in node.nodes:
                self.walk(dot, n)
        elif isinstance(node, TextNode):
            self.out.append(node.text)
        elif isinstance(node, ActionNode):
            val = self.eval_pipeline(dot, node.pipe)
            if not node.pipe.decl:
                self.out.append(fmt_value(val))
        elif isinstance(node, (IfNode, WithNode)):
            mark = len(self.vars)
            val = self.eval_pipeline(dot, node.pipe)
            if is_true(val):
                self.walk(val if isinstance(node, WithNode) else dot, node.list)
            elif node.else_list is not None:
                self.walk(dot, node.else_list)
            del self.vars[mark:]
        elif isinstance(node, RangeNode):
            self.walk_range(dot, node)
        elif isinstance(node, BreakNode):
            raise _Break
        elif isinstance(node, ContinueNode):
            raise _Continue
        elif isinstance(node, TemplateNode):
            raise TemplateError(f'stand-in template engine: {{{{template "{node.name}"}}}} is not ported')
        else:
            raise TemplateError(f"unknown node: {node!r}")

    def walk_range(self, dot: Any, node: RangeNode) -> None:
        mark = len(self.vars)
        val = self.eval_pipeline(dot, node.pipe)
        if isinstance(val, dict):
            items = [(k, val[k]) for k in sorted(val)]
        elif isinstance(val, (list, str)):
            items = list(enumerate(val))
        elif isinstance(val, int) and not isinstance(val, bool):
            items = [(i, i) for i in range(val)]
        elif val is None:
            items = []
        else:
            raise TemplateError(f"range can't iterate over {fmt_value(val)}")
        for index, elem in items:
            inner = len(self.vars)
            if node.pipe.decl:
                if node.pipe.is_assign:
                    self.set_var(node.pipe.decl[0].ident[0], elem)
                else:
                    self.vars[-1][1] = elem
            if len(node.pipe.decl) > 1:
                self.vars[-2][1] = index
            try:
                self.walk(elem, node.list)
            except _Break:
                del self.vars[inner:]
                break
            except _Continue:
                pass
            del self.vars[inner:]
        if not items and node.else_list is not None:
            self.walk(dot, node.else_list)
        del self.vars[mark:]

    def set_var(self, name: str, value: Any) -> None:
        for entry in reversed(self.vars):
            if entry[0] == name:
                entry[1] = value
                return
        raise TemplateError(f"undefined variable: {name}")

    def var(self, name: str) -> Any:
        for entry in reversed(self.vars):
            if entry[0] == name:
                return entry[1]
        raise TemplateError(f"undefined variable: {name}")

    def eval_pipeline(self, dot: Any, pipe: PipeNode) -> Any:
        value: Any = _NOFINAL
        for cmd in pipe.cmds:
            value = self.eval_command(dot, cmd, value)
        for v in pipe.decl:
            if pipe.is_assign:
                self.set_var(v.ident[0], value)
            else:
                self.vars.append([v.ident[0], value])
        return value

    def eval_command(self, dot: Any, cmd: CommandNode, final: Any) -> Any:
        first = cmd.args[0]
        if isinstance(first, IdentifierNode):
            return self.eval_function(dot, first.ident, cmd.args[1:], final)
        if len(cmd.args) > 1 or final is not _NOFINAL:
            raise TemplateError(f"can't give argument to non-function {first!r}")
        return self.eval_arg(dot, first)

    def eval_function(self, dot: Any, name: str, args: list[Node], final: Any) -> Any:
        if name in ("and", "or"):  # funcs.go: short-circuit, the deciding operand is the result
            thunks = [lambda a=a: self.eval_arg(dot, a) for a in args]
            if final is not _NOFINAL:
                thunks.append(lambda: final)
            if not thunks:
                raise TemplateError(f"wrong number of args for {name}: want at least 1 got 0")
            val = None
            for thunk in thunks:
                val = thunk()
                if is_true(val) != (name == "and"):
                    return val
            return val
        if name not in FUNCTIONS:
            raise TemplateError(f'stand-in template engine: function "{name}" is not ported')
        values = [self.eval_arg(dot, a) for a in args]
        if final is not _NOFINAL:
            values.append(final)
        try:
            return FUNCTIONS[name](*values)
        except TypeError as exc:
            raise TemplateError(f"wrong number of args for {name}: {exc}") from None

    def eval_arg(self, dot: Any, node: Node) -> Any:
        if isinstance(node, FieldNode):
            return self.fields(dot, node.ident)
        if isinstance(node, VariableNode):
            return self.fields(self.var(node.ident[0]), node.ident[1:])
        if isinstance(node, ChainNode):
            return self.fields(self.eval_arg(dot, node.node), node.field)
        if isinstance(node, PipeNode):
            mark = len(self.vars)
            try:
                return self.eval_pipeline(dot, node)
            finally:
                del self.vars[mark:]
        if isinstance(node, DotNode):
            return dot
        if isinstance(node, NilNode):
            return None
        if isinstance(node, (BoolNode, NumberNode)):
            return node.value
        if isinstance(node, StringNode):
            return node.text
        if isinstance(node, IdentifierNode):
            return self.eval_function(dot, node.ident, [], _NOFINAL)
        raise TemplateError(f"can't evaluate {node!r}")

    @staticmethod
    def fields(value: Any, names: list[str]) -> Any:
        for name in names:
            if value is None:
                return None  # evalField: receiver not valid -> zero value
            if isinstance(value, dict):
                value = value.get(name)
            elif isinstance(value, GoStruct):
                if name not in value.fields:
                    raise TemplateError(f"can't evaluate field {name} in type {value.type_name}")
                value = value.fields[name]
            else:
                raise TemplateError(f"can't evaluate field {name} in type {type(value).__name__}")
        return value


_NOFINAL = object()


def execute(root: ListNode, data: Any) -> str:
    ex = Executor(data)
    ex.walk(data, root)
    return "".join(ex.out)
