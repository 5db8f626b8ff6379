"""The language of a health probe's ``successExpression`` and ``failureExpression``.

Evaluated over one HTTP response: ``status`` (its status code, a number) and ``body`` (its
first 64 KiB as text). A hand-written tokenizer and recursive-descent parser, like the
``if`` language of :mod:`kit.workflow.expr` (same limits, same column-numbered errors) —
never ``eval``. Grammar (docs/workflows.md "Probe expressions")::

    expr    := or
    or      := and ( "||" and )*
    and     := not ( "&&" not )*
    not     := "!" not | compare
    compare := value ( ( "==" | "!=" | "<" | "<=" | ">" | ">=" ) value )?
    value   := STRING | INTEGER | "true" | "false" | "null" | "status" | "body"
             | call | "(" expr ")"
    call    := ( "contains" | "startsWith" | "endsWith" ) "(" expr "," expr ")"
             | "json" "(" "body" ")" ( "." NAME )+

Types are checked when the expression is parsed, so a template cannot hold a comparison
that can never be true (``status == 'ok'``) or order texts (``body < 3``): ``status`` is a
number, ``body`` and the functions' arguments are texts, and ``json(body).a.b`` may be
anything (``null`` when the body is not JSON or has no such field; objects and lists read as
``null`` too, only numbers, texts, booleans are values).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal as Kind

from kit.workflow import lexing
from kit.workflow.lexing import Cursor, ExprError, Token

BODY_LIMIT = 64 * 1024          # characters of the body an expression sees
MAX_FIELDS = 16                 # ``json(body).a.b…`` path length
DEFAULT_SUCCESS = "status >= 200 && status < 400"

Value = str | int | float | bool | None
Type = Kind["number", "text", "bool", "null", "any"]

TEXT_FUNCTIONS = frozenset({"contains", "startsWith", "endsWith"})
FUNCTIONS = TEXT_FUNCTIONS | {"json"}
VARIABLES = frozenset({"status", "body"})
ORDER = frozenset({"<", "<=", ">", ">="})


# --- the syntax tree ----------------------------------------------------------------------

@dataclass(frozen=True)
class Literal:
    value: Value


@dataclass(frozen=True)
class Var:
    name: str                   # "status" or "body"


@dataclass(frozen=True)
class Call:
    """``contains(a, b)`` and its kin: two text arguments."""

    name: str
    args: tuple[Node, Node]


@dataclass(frozen=True)
class JsonPath:
    """``json(body).a.b``."""

    fields: tuple[str, ...]


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node


Node = Literal | Var | Call | JsonPath | Not | Binary


# --- tokens ---------------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<space>[ \t]+)
  | (?P<str>'(?:[^'\\\n]|\\[\\'])*')
  | (?P<num>-?(?:0|[1-9][0-9]{0,15}))(?![0-9.])
  | (?P<badnum>-?[0-9][0-9.]*)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]{0,62})
  | (?P<op>&&|\|\||==|!=|<=|>=|<|>|!|\(|\)|\.|,)
""", re.VERBOSE)


def _refuse(match: re.Match[str]) -> str | None:
    if match.lastgroup == "badnum":
        return f"{match.group()[:20]!r}: numbers are whole, at most 16 digits, no leading 0"
    return None


def tokenize(text: str) -> Iterator[Token]:
    return lexing.tokenize(text, _TOKEN, _refuse)


# --- the parser (with the type of each node, so mistakes show at validation) -----------------

Typed = tuple[Node, Type]


class _Parser(Cursor):
    def __init__(self, text: str) -> None:
        super().__init__(list(tokenize(text)))

    def at(self, text: str) -> bool:
        return self.peek.kind == "op" and self.peek.text == text

    def expect(self, text: str) -> Token:
        token = self.take()
        if token.kind != "op" or token.text != text:
            raise ExprError(f"expected {text!r}, found {_show(token)}", token.column)
        return token

    def binary(self, op: str, operand: Callable[[], Typed]) -> Typed:
        node, kind = operand()
        while self.at(op):
            self.take()
            right, right_kind = self.nested(operand)
            node, kind = Binary(op, node, right), "bool"
        return node, kind

    def or_(self) -> Typed:
        return self.binary("||", self.and_)

    def and_(self) -> Typed:
        return self.binary("&&", self.not_)

    def not_(self) -> Typed:
        if self.at("!"):
            self.take()
            operand, _ = self.nested(self.not_)
            return Not(operand), "bool"
        return self.compare()

    def compare(self) -> Typed:
        left, left_kind = self.value()
        if self.peek.kind != "op" or self.peek.text not in ORDER | {"==", "!="}:
            return left, left_kind
        op = self.take()
        right, right_kind = self.value()
        if op.text in ORDER:
            for kind in (left_kind, right_kind):
                if kind not in ("number", "any"):
                    raise ExprError(f"{op.text!r} compares numbers, not a {_kind(kind)}", op.column)
        elif "any" not in (left_kind, right_kind) and "null" not in (left_kind, right_kind) \
                and left_kind != right_kind:
            raise ExprError(f"{op.text!r} between a {_kind(left_kind)} and a {_kind(right_kind)} "
                            f"is always {'false' if op.text == '==' else 'true'}", op.column)
        return Binary(op.text, left, right), "bool"

    def value(self) -> Typed:
        token = self.take()
        if token.kind == "str":
            return Literal(_unquote(token.text)), "text"
        if token.kind == "num":
            return Literal(int(token.text)), "number"
        if token.kind == "op" and token.text == "(":
            inner = self.nested(self.or_)
            self.expect(")")
            return inner
        if token.kind == "name":
            if token.text in ("true", "false"):
                return Literal(token.text == "true"), "bool"
            if token.text == "null":
                return Literal(None), "null"
            if token.text in VARIABLES:
                return Var(token.text), "number" if token.text == "status" else "text"
            return self.call(token)
        raise ExprError(f"expected a value, found {_show(token)}", token.column)

    def call(self, name: Token) -> Typed:
        if name.text not in FUNCTIONS:
            raise ExprError(f"unknown name {name.text!r} (variables: body, status; functions: "
                            f"{', '.join(sorted(FUNCTIONS))})", name.column)
        self.expect("(")
        if name.text == "json":
            source = self.take()
            if source.kind != "name" or source.text != "body":
                raise ExprError(f"json() reads the body: json(body), found {_show(source)}", source.column)
            self.expect(")")
            fields = []
            while self.at("."):
                self.take()
                field = self.take()
                if field.kind != "name":
                    raise ExprError(f"expected a field name after '.', found {_show(field)}", field.column)
                fields.append(field.text)
                if len(fields) > MAX_FIELDS:
                    raise ExprError(f"json(body) path is longer than {MAX_FIELDS} fields", field.column)
            if not fields:
                raise ExprError("json(body) needs a field: json(body).status", self.peek.column)
            return JsonPath(tuple(fields)), "any"
        args: list[Node] = []
        for i in range(2):
            if i:
                self.expect(",")
            where = self.peek.column
            arg, kind = self.nested(self.or_)
            if kind not in ("text", "any"):
                raise ExprError(f"{name.text}() takes texts, not a {_kind(kind)}", where)
            args.append(arg)
        self.expect(")")
        return Call(name.text, (args[0], args[1])), "bool"


def _unquote(text: str) -> str:
    return text[1:-1].replace("\\'", "'").replace("\\\\", "\\")


def _show(token: Token) -> str:
    return "the end" if token.kind == "end" else repr(token.text)


def _kind(kind: Type) -> str:
    return {"number": "number", "text": "text", "bool": "boolean", "null": "null", "any": "value"}[kind]


def parse(text: str) -> Node:
    """The syntax tree of *text*.

    Raises:
        ExprError: it does not parse, is too long, nests too deep, names an unknown variable or
            function, or compares values of types that can never match (the message names the column).
    """
    if not text.strip():
        raise ExprError("empty expression", 1)
    parser = _Parser(text)
    node, _ = parser.or_()
    if parser.peek.kind != "end":
        raise ExprError(f"unexpected {_show(parser.peek)}", parser.peek.column)
    return node


# --- evaluation -------------------------------------------------------------------------------

class Response:
    """What an expression reads: the status and the (capped) body; the body's JSON parsed
    once, on first use."""

    def __init__(self, status: int, body: str) -> None:
        self.status = status
        self.body = body[:BODY_LIMIT]
        self._json: object = _UNREAD

    def json(self) -> object:
        if self._json is _UNREAD:
            try:
                self._json = json.loads(self.body)
            except (ValueError, RecursionError):      # not JSON, or nested past the parser
                self._json = None
        return self._json


_UNREAD = object()


def truthy(value: Value) -> bool:
    return value not in (None, False, 0, "")


def evaluate(node: Node, response: Response) -> Value:
    """The value of *node* for *response* (``&&``, ``||``, comparisons and calls give booleans)."""
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Var):
        return response.status if node.name == "status" else response.body
    if isinstance(node, Not):
        return not truthy(evaluate(node.operand, response))
    if isinstance(node, JsonPath):
        return _field(response.json(), node.fields)
    if isinstance(node, Call):
        a, b = (evaluate(arg, response) for arg in node.args)
        if not isinstance(a, str) or not isinstance(b, str):
            return False             # a json(body) field that is not text
        return {"contains": b in a, "startsWith": a.startswith(b), "endsWith": a.endswith(b)}[node.name]
    if node.op == "&&":
        return truthy(evaluate(node.left, response)) and truthy(evaluate(node.right, response))
    if node.op == "||":
        return truthy(evaluate(node.left, response)) or truthy(evaluate(node.right, response))
    return _compare(node.op, evaluate(node.left, response), evaluate(node.right, response))


def _field(doc: object, fields: tuple[str, ...]) -> Value:
    for name in fields:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(name)
    if isinstance(doc, bool | int | float | str) and not (isinstance(doc, float) and doc != doc):
        return doc
    return None                     # null, an object or a list


def _number(value: Value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _compare(op: str, a: Value, b: Value) -> bool:
    if op in ("==", "!="):
        same = (_number(a) and _number(b) and a == b) or (type(a) is type(b) and a == b)
        return same if op == "==" else not same
    if not _number(a) or not _number(b):
        return False                 # a json(body) field that is not a number
    assert isinstance(a, int | float) and isinstance(b, int | float)
    # compared as they are: Python orders an int and a float exactly (no overflow to float)
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def holds(node: Node, status: int, body: str) -> bool:
    """Whether *node* is true for a response with *status* and *body*."""
    return truthy(evaluate(node, Response(status, body)))
