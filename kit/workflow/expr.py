"""The ``if`` expression language of workflow steps: tokenizer, parser, evaluator.

A hand-written tokenizer and recursive-descent parser (never ``eval``), bounded in length
and nesting depth, so a hostile template cannot make it slow or deep. Grammar
(docs/workflows.md "Expressions")::

    expr    := or
    or      := and ( "||" and )*
    and     := not ( "&&" not )*
    not     := "!" not | compare
    compare := value ( ( "==" | "!=" ) value )?
    value   := STRING | NUMBER | "true" | "false" | "null" | call | "(" expr ")"
    call    := NAME "(" [ STRING ] ")" [ "." NAME ]

Functions: ``success()``, ``failure()``, ``always()``, ``cancelled()`` (the status checks),
``status('id')`` (a step's outcome, a string) and ``outputs('id').name`` (one output of a
step). Parse errors name the column (1-based).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from kit.workflow import lexing
from kit.workflow.lexing import (  # the limits and the error are re-exported: callers name them here
    MAX_DEPTH as MAX_DEPTH,
    MAX_LENGTH as MAX_LENGTH,
    MAX_TOKENS as MAX_TOKENS,
    Cursor,
    ExprError as ExprError,
    Token,
)

Value = str | int | float | bool | None

STATUS_CHECKS = frozenset({"success", "failure", "always", "cancelled"})
STEP_FUNCTIONS = frozenset({"status", "outputs"})


# --- the syntax tree ----------------------------------------------------------------------

@dataclass(frozen=True)
class Literal:
    value: Value


@dataclass(frozen=True)
class Call:
    """``name()``, ``name('arg')`` or ``outputs('arg').field``."""

    name: str
    arg: str | None = None
    field: str | None = None


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class Binary:
    op: str          # "&&", "||", "==", "!="
    left: Node
    right: Node


Node = Literal | Call | Not | Binary


# --- tokens ---------------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<space>[ \t]+)
  | (?P<str>'(?:[^'\\\n]|\\[\\'])*')
  | (?P<num>-?(?:0|[1-9][0-9]{0,15})(?:\.[0-9]{1,15})?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_-]{0,62})
  | (?P<op>&&|\|\||==|!=|!|\(|\)|\.)
""", re.VERBOSE)


def tokenize(text: str) -> Iterator[Token]:
    return lexing.tokenize(text, _TOKEN)


# --- the parser -----------------------------------------------------------------------------

class _Parser(Cursor):
    def __init__(self, text: str) -> None:
        super().__init__(list(tokenize(text)))

    def expect(self, text: str) -> Token:
        token = self.take()
        if token.text != text or token.kind == "str":
            raise ExprError(f"expected {text!r}, found {_show(token)}", token.column)
        return token

    def binary(self, op: str, operand: Callable[[], Node]) -> Node:
        node = operand()
        while self.peek.kind == "op" and self.peek.text == op:
            self.take()
            node = Binary(op, node, self.nested(operand))
        return node

    def or_(self) -> Node:
        return self.binary("||", self.and_)

    def and_(self) -> Node:
        return self.binary("&&", self.not_)

    def not_(self) -> Node:
        if self.peek.kind == "op" and self.peek.text == "!":
            self.take()
            return Not(self.nested(self.not_))
        return self.compare()

    def compare(self) -> Node:
        left = self.value()
        if self.peek.kind == "op" and self.peek.text in ("==", "!="):
            op = self.take().text
            return Binary(op, left, self.value())
        return left

    def value(self) -> Node:
        token = self.take()
        if token.kind == "str":
            return Literal(_unquote(token.text))
        if token.kind == "num":
            return Literal(float(token.text) if "." in token.text else int(token.text))
        if token.kind == "op" and token.text == "(":
            inner = self.nested(self.or_)
            self.expect(")")
            return inner
        if token.kind == "name":
            if token.text in ("true", "false"):
                return Literal(token.text == "true")
            if token.text == "null":
                return Literal(None)
            return self.call(token)
        raise ExprError(f"expected a value, found {_show(token)}", token.column)

    def call(self, name: Token) -> Node:
        if name.text not in STATUS_CHECKS | STEP_FUNCTIONS:
            known = ", ".join(sorted(STATUS_CHECKS | STEP_FUNCTIONS))
            raise ExprError(f"unknown function {name.text!r} (known: {known})", name.column)
        self.expect("(")
        arg = None
        if name.text in STEP_FUNCTIONS:
            token = self.take()
            if token.kind != "str":
                raise ExprError(f"{name.text}() takes a step id in quotes, found {_show(token)}", token.column)
            arg = _unquote(token.text)
        self.expect(")")
        field = None
        if name.text == "outputs":
            self.expect(".")
            token = self.take()
            if token.kind != "name":
                raise ExprError(f"expected an output name after 'outputs(...).', found {_show(token)}",
                                token.column)
            field = token.text
        return Call(name.text, arg, field)


def _unquote(text: str) -> str:
    return text[1:-1].replace("\\'", "'").replace("\\\\", "\\")


def _show(token: Token) -> str:
    return "the end" if token.kind == "end" else repr(token.text)


def parse(text: str) -> Node:
    """The syntax tree of *text*.

    Raises:
        ExprError: it does not parse, is too long or nests too deep (the message names the column).
    """
    if not text.strip():
        raise ExprError("empty expression", 1)
    parser = _Parser(text)
    node = parser.or_()
    if parser.peek.kind != "end":
        raise ExprError(f"unexpected {_show(parser.peek)}", parser.peek.column)
    return node


def calls(node: Node) -> Iterator[Call]:
    """Every function call in *node*, left to right."""
    if isinstance(node, Call):
        yield node
    elif isinstance(node, Not):
        yield from calls(node.operand)
    elif isinstance(node, Binary):
        yield from calls(node.left)
        yield from calls(node.right)


def has_status_check(node: Node) -> bool:
    """Whether *node* calls ``success()``, ``failure()``, ``always()`` or ``cancelled()``.

    Without one, a step's condition means ``success() && (condition)`` (as in GitHub Actions).
    """
    return any(c.name in STATUS_CHECKS for c in calls(node))


# --- evaluation -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Context:
    """What a condition may read when it is evaluated (all of it final by then)."""

    success: bool
    failure: bool
    cancelled: bool
    status: Callable[[str], str]
    output: Callable[[str, str], Value]


def truthy(value: Value) -> bool:
    return value not in (None, False, 0, "") and value != 0.0


def evaluate(node: Node, ctx: Context) -> Value:
    """The value of *node* (``&&``/``||`` return booleans)."""
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Not):
        return not truthy(evaluate(node.operand, ctx))
    if isinstance(node, Binary):
        if node.op == "&&":
            return truthy(evaluate(node.left, ctx)) and truthy(evaluate(node.right, ctx))
        if node.op == "||":
            return truthy(evaluate(node.left, ctx)) or truthy(evaluate(node.right, ctx))
        equal = _equal(evaluate(node.left, ctx), evaluate(node.right, ctx))
        return equal if node.op == "==" else not equal
    return _call(node, ctx)


def _equal(a: Value, b: Value) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def _call(node: Call, ctx: Context) -> Value:
    if node.name == "success":
        return ctx.success
    if node.name == "failure":
        return ctx.failure
    if node.name == "always":
        return True
    if node.name == "cancelled":
        return ctx.cancelled
    if node.name == "status":
        return ctx.status(node.arg or "")
    return ctx.output(node.arg or "", node.field or "")
