"""STAND-IN code (qwen3-deploy tests), NOT Ollama: a Python port of the subset of Go's text/template that Ollama
templates use, so the Ollama stand-in can run upstream's template heuristics and render prompts.

Ported from Go's standard library (read here in go1.19.8, /usr/lib/go-1.19/src/text/template; Ollama v0.33.0-rc2
builds with go 1.26, and everything used below predates go1.19):
- parse/lex.go: lexText (text up to "{{", left trim "{{- " strips trailing " \\t\\r\\n" of the text before,
  empty text is not emitted), lexLeftDelim/lexComment ("{{/* */}}" makes no node), lexRightDelim (" -}}" strips
  leading whitespace of the text after), lexInsideAction (tokens: space, := = | ( ) , "str" `raw` 'c' $var .field
  identifiers/keywords numbers);
- parse/parse.go: itemList/textOrAction/action, parseControl ("else if" becomes an else-list holding one IfNode),
  pipeline (declarations "$x :=", "$x =", "range $i, $v :="), command/operand/term (".A.B" is one FieldNode with
  Ident [A B]; "$v.A" one VariableNode [$v A]; "(pipe)" a PipeNode operand), undefined variable/function errors;
- parse/node.go: the node kinds (names kept: ListNode, TextNode, ActionNode, IfNode, RangeNode, WithNode, PipeNode,
  CommandNode, FieldNode, VariableNode, ChainNode, IdentifierNode, DotNode, NilNode, BoolNode, NumberNode,
  StringNode, BreakNode, ContinueNode, TemplateNode).
Execution is in gotemplate_exec.py. Not ported: define/template/block bodies, custom delimiters, complex numbers.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

SPACE_CHARS = " \t\r\n"
KEYWORDS = {"if", "else", "end", "range", "with", "define", "template", "block", "nil", "break", "continue"}
# text/template builtins (funcs.go builtins()) + Ollama's template.funcs (template/template.go, v0.33.0-rc2)
FUNCS = {
    "and",
    "call",
    "html",
    "index",
    "slice",
    "js",
    "len",
    "not",
    "or",
    "print",
    "printf",
    "println",
    "urlquery",
    "eq",
    "ge",
    "gt",
    "le",
    "lt",
    "ne",
    "json",
    "currentDate",
    "yesterdayDate",
    "toTypeScriptType",
}


class TemplateError(ValueError):
    """A template Go's text/template would refuse (parse) or fail on (exec)."""


# ---------------------------------------------------------------- nodes (parse/node.go)
@dataclass
class Node:
    pass


@dataclass
class ListNode(Node):
    nodes: list[Node] = field(default_factory=list)


@dataclass
class TextNode(Node):
    text: str = ""


@dataclass
class PipeNode(Node):
    decl: list[VariableNode] = field(default_factory=list)
    cmds: list[CommandNode] = field(default_factory=list)
    is_assign: bool = False


@dataclass
class ActionNode(Node):
    pipe: PipeNode | None = None


@dataclass
class BranchNode(Node):
    pipe: PipeNode | None = None
    list: ListNode | None = None
    else_list: ListNode | None = None


class IfNode(BranchNode):
    pass


class RangeNode(BranchNode):
    pass


class WithNode(BranchNode):
    pass


@dataclass
class TemplateNode(Node):
    name: str = ""
    pipe: PipeNode | None = None


@dataclass
class CommandNode(Node):
    args: list[Node] = field(default_factory=list)


@dataclass
class FieldNode(Node):
    ident: list[str] = field(default_factory=list)


@dataclass
class VariableNode(Node):
    ident: list[str] = field(default_factory=list)


@dataclass
class ChainNode(Node):
    node: Node | None = None
    field: list[str] = field(default_factory=list)


@dataclass
class IdentifierNode(Node):
    ident: str = ""


@dataclass
class DotNode(Node):
    pass


@dataclass
class NilNode(Node):
    pass


@dataclass
class BoolNode(Node):
    value: bool = False


@dataclass
class NumberNode(Node):
    value: int | float = 0


@dataclass
class StringNode(Node):
    text: str = ""


@dataclass
class BreakNode(Node):
    pass


@dataclass
class ContinueNode(Node):
    pass


@dataclass
class _End(Node):
    pass


@dataclass
class _Else(Node):
    pass


# ---------------------------------------------------------------- lexer (parse/lex.go)
_ACTION_TOKEN = re.compile(
    r"""(?P<space>[ \t\r\n]+)|(?P<declare>:=)|(?P<assign>=)|(?P<pipe>\|)|(?P<lparen>\()|(?P<rparen>\))|(?P<comma>,)
    |(?P<string>"(?:[^"\\\n]|\\.)*")|(?P<raw>`[^`]*`)|(?P<charconst>'(?:[^'\\\n]|\\.)+')
    |(?P<variable>\$[A-Za-z0-9_]*)|(?P<field>\.[A-Za-z_][A-Za-z0-9_]*)
    |(?P<number>[+-]?(?:0[xX][0-9a-fA-F_]+|[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?))
    |(?P<dot>\.)|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)""",
    re.X,
)


def _has_left_trim(s: str) -> bool:
    return len(s) >= 2 and s[0] == "-" and s[1] in SPACE_CHARS


def _at_right_delim(s: str, pos: int) -> tuple[bool, bool]:
    if len(s) >= pos + 2 and s[pos] in SPACE_CHARS and s[pos + 1] == "-" and s.startswith("}}", pos + 2):
        return True, True
    return s.startswith("}}", pos), False


def lex(src: str) -> list[tuple[str, str]]:
    """Tokens (kind, value): text, left, right, and the action tokens of lexInsideAction."""
    out: list[tuple[str, str]] = []
    pos = 0
    while True:
        x = src.find("{{", pos)
        if x < 0:
            if pos < len(src):
                out.append(("text", src[pos:]))
            return out
        text = src[pos:x]
        after = x + 2
        trim_left = _has_left_trim(src[after:])
        if trim_left:
            text = text.rstrip(SPACE_CHARS)
            after += 2
        if text:
            out.append(("text", text))
        if src.startswith("/*", after):  # lexComment
            end = src.find("*/", after + 2)
            if end < 0:
                raise TemplateError("unclosed comment")
            pos = end + 2
            delim, trim = _at_right_delim(src, pos)
            if not delim:
                raise TemplateError("comment ends before closing delimiter")
            pos += (2 if trim else 0) + 2
            if trim:
                pos = len(src) - len(src[pos:].lstrip(SPACE_CHARS))
            continue
        out.append(("left", "{{"))
        pos, depth = after, 0
        while True:
            delim, trim = _at_right_delim(src, pos)
            if delim and depth == 0:
                pos += (2 if trim else 0) + 2
                out.append(("right", "}}"))
                if trim:
                    pos = len(src) - len(src[pos:].lstrip(SPACE_CHARS))
                break
            if pos >= len(src):
                raise TemplateError("unclosed action")
            m = _ACTION_TOKEN.match(src, pos)
            if not m:
                raise TemplateError(f"unrecognized character in action: {src[pos]!r}")
            kind = m.lastgroup or ""
            value = m.group(0)
            if kind == "space" and _at_right_delim(src, pos + len(value) - 1)[1]:
                value = value[:-1]  # lexSpace: leave the space that belongs to " -}}"
            if kind == "lparen":
                depth += 1
            elif kind == "rparen":
                depth -= 1
                if depth < 0:
                    raise TemplateError("unexpected right paren")
            elif kind == "ident" and value in KEYWORDS | {"true", "false"}:
                kind = "bool" if value in ("true", "false") else value
            out.append((kind, value))
            pos += len(value)


# ---------------------------------------------------------------- parser (parse/parse.go)
class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]):
        self.toks = tokens
        self.i = 0
        self.vars = ["$"]
        self.range_depth = 0

    def peek(self) -> tuple[str, str]:
        return self.toks[self.i] if self.i < len(self.toks) else ("eof", "")

    def next(self) -> tuple[str, str]:
        tok = self.peek()
        self.i += 1
        return tok

    def peek_non_space(self) -> tuple[str, str]:
        while self.peek()[0] == "space":
            self.i += 1
        return self.peek()

    def next_non_space(self) -> tuple[str, str]:
        self.peek_non_space()
        return self.next()

    def parse(self) -> ListNode:
        root = ListNode()
        while self.peek()[0] != "eof":
            node = self.text_or_action()
            if isinstance(node, (_End, _Else)):
                raise TemplateError(f"unexpected {{{{{'end' if isinstance(node, _End) else 'else'}}}}}")
            root.nodes.append(node)
        return root

    def item_list(self) -> tuple[ListNode, Node]:
        lst = ListNode()
        while self.peek()[0] != "eof":
            node = self.text_or_action()
            if isinstance(node, (_End, _Else)):
                return lst, node
            lst.nodes.append(node)
        raise TemplateError("unexpected EOF")

    def text_or_action(self) -> Node:
        kind, value = self.next()
        if kind == "text":
            return TextNode(value)
        if kind == "left":
            return self.action()
        raise TemplateError(f"unexpected {value!r} in input")

    def action(self) -> Node:
        kind, _ = self.next_non_space()
        simple = {"else": _Else, "end": _End, "break": BreakNode, "continue": ContinueNode}
        if kind in ("break", "continue") and not self.range_depth:
            raise TemplateError(f"{{{{{kind}}}}} outside {{{{range}}}}")
        if kind in simple:
            if kind != "else" or self.peek_non_space()[0] != "if":
                if self.next_non_space()[0] != "right":
                    raise TemplateError(f"unexpected token in {{{{{kind}}}}}")
            return simple[kind]()
        if kind in ("if", "range", "with"):
            pipe, lst, else_list = self.parse_control(kind == "if", kind)
            return {"if": IfNode, "range": RangeNode, "with": WithNode}[kind](pipe, lst, else_list)
        if kind == "template":
            kind, name = self.next_non_space()
            pipe = None if self.peek_non_space()[0] == "right" else self.pipeline("template", "right")
            if pipe is None:
                self.next()
            return TemplateNode(name=ast.literal_eval(name), pipe=pipe)
        if kind in ("define", "block"):
            raise TemplateError(f"stand-in template engine: {{{{{kind}}}}} is not ported")
        self.i -= 1
        return ActionNode(self.pipeline("command", "right"))

    def parse_control(self, allow_else_if: bool, context: str) -> tuple[PipeNode, ListNode, ListNode | None]:
        mark = len(self.vars)
        try:
            pipe = self.pipeline(context, "right")
            self.range_depth += context == "range"
            lst, nxt = self.item_list()
            self.range_depth -= context == "range"
            else_list = None
            if isinstance(nxt, _Else):
                if allow_else_if and self.peek_non_space()[0] == "if":
                    self.next_non_space()
                    pipe2, lst2, else2 = self.parse_control(True, "if")
                    else_list = ListNode([IfNode(pipe2, lst2, else2)])
                else:
                    else_list, nxt = self.item_list()
                    if not isinstance(nxt, _End):
                        raise TemplateError("expected end; found else")
            return pipe, lst, else_list
        finally:
            del self.vars[mark:]

    def pipeline(self, context: str, end: str) -> PipeNode:
        pipe = PipeNode()
        while self.peek_non_space()[0] == "variable":
            start = self.i
            _, name = self.next()
            after = self.peek()
            nxt = self.peek_non_space()
            if nxt[0] in ("declare", "assign"):
                pipe.is_assign = nxt[0] == "assign"
                self.next_non_space()
                pipe.decl.append(VariableNode([name]))
                self.vars.append(name)  # an undefined "$x =" fails only when executed, as in Go
                break
            if nxt[0] == "comma":
                self.next_non_space()
                pipe.decl.append(VariableNode([name]))
                self.vars.append(name)
                if context == "range" and len(pipe.decl) < 2:
                    continue
                raise TemplateError(f"too many declarations in {context}")
            del after
            self.i = start
            break
        while True:
            kind, value = self.next_non_space()
            if kind == end:
                if not pipe.cmds:
                    raise TemplateError(f"missing value for {context}")
                return pipe
            if kind in (
                "bool",
                "charconst",
                "dot",
                "field",
                "ident",
                "number",
                "nil",
                "raw",
                "string",
                "variable",
                "lparen",
            ):
                self.i -= 1
                pipe.cmds.append(self.command())
            else:
                raise TemplateError(f"unexpected {value!r} in {context}")

    def command(self) -> CommandNode:
        cmd = CommandNode()
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            kind, value = self.next()
            if kind == "space":
                continue
            if kind in ("right", "rparen"):
                self.i -= 1
            elif kind != "pipe":
                raise TemplateError(f"unexpected {value!r} in operand")
            break
        if not cmd.args:
            raise TemplateError("empty command")
        return cmd

    def operand(self) -> Node | None:
        node = self.term()
        if node is None:
            return None
        if self.peek()[0] == "field":
            fields = []
            while self.peek()[0] == "field":
                fields.append(self.next()[1][1:])
            if isinstance(node, FieldNode):
                node = FieldNode(node.ident + fields)
            elif isinstance(node, VariableNode):
                node = VariableNode(node.ident + fields)
            elif isinstance(node, (BoolNode, StringNode, NumberNode, NilNode, DotNode)):
                raise TemplateError("unexpected . after term")
            else:
                node = ChainNode(node, fields)
        return node

    def term(self) -> Node | None:
        kind, value = self.next_non_space()
        if kind == "ident":
            if value not in FUNCS:
                raise TemplateError(f'function "{value}" not defined')
            return IdentifierNode(value)
        if kind == "dot":
            return DotNode()
        if kind == "nil":
            return NilNode()
        if kind == "variable":
            if value not in self.vars:
                raise TemplateError(f"undefined variable {value!r}")
            return VariableNode([value])
        if kind == "field":
            return FieldNode([value[1:]])
        if kind == "bool":
            return BoolNode(value == "true")
        if kind == "number":
            text = value.replace("_", "")
            try:  # idealConstant (exec.go): an integer literal is an int, one with . or e/E a float
                return NumberNode(int(text, 0))
            except ValueError:
                return NumberNode(float(text))
        if kind == "charconst":
            return NumberNode(ord(ast.literal_eval(value)))
        if kind == "lparen":
            return self.pipeline("parenthesized pipeline", "rparen")
        if kind in ("string", "raw"):
            return StringNode(ast.literal_eval(value) if kind == "string" else value[1:-1])
        self.i -= 1
        return None


def parse(src: str) -> ListNode:
    """The parse tree Go's text/template.Parse would build for `src` (raises TemplateError where Go errors)."""
    return _Parser(lex(src)).parse()
