"""The ``if`` expression language: what parses, what does not (with the column), what it means."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from kit.workflow import expr
from kit.workflow.expr import Binary, Call, Context, ExprError, Literal, Not


def ctx(success: bool = True, failure: bool = False, cancelled: bool = False,
        statuses: dict[str, str] | None = None, outputs: dict[str, dict[str, expr.Value]] | None = None) -> Context:
    return Context(success=success, failure=failure, cancelled=cancelled,
                   status=lambda s: (statuses or {}).get(s, "succeeded"),
                   output=lambda s, n: (outputs or {}).get(s, {}).get(n))


def value(text: str, c: Context | None = None) -> expr.Value:
    return expr.evaluate(expr.parse(text), c or ctx())


def test_the_grammar_builds_the_tree_with_precedence() -> None:
    assert expr.parse("success() || failure() && !cancelled()") == Binary(
        "||", Call("success"), Binary("&&", Call("failure"), Not(Call("cancelled"))))
    assert expr.parse("status('deploy') == 'failed'") == Binary("==", Call("status", "deploy"), Literal("failed"))
    assert expr.parse("outputs('smoke').code != 200") == Binary("!=", Call("outputs", "smoke", "code"), Literal(200))
    assert expr.parse("(true)") == Literal(True)
    assert expr.parse("'it\\'s'") == Literal("it's")
    assert expr.parse("-1.5 == null") == Binary("==", Literal(-1.5), Literal(None))


@pytest.mark.parametrize(("text", "column", "says"), [
    ("success(", 9, "expected ')'"),
    ("success() &&", 13, "expected a value, found the end"),
    ("success() & failure()", 11, "unexpected character '&'"),
    ("status(deploy)", 8, "takes a step id in quotes"),
    ("outputs('a')", 13, "expected '.'"),
    ("outputs('a').'x'", 14, "expected an output name"),
    ("exec('rm -rf /')", 1, "unknown function 'exec'"),
    ("__import__('os')", 1, "unknown function '__import__'"),
    ("success() success()", 11, "unexpected 'success'"),
    ("'unterminated", 1, "unexpected character"),
    ("  ", 1, "empty expression"),
    ("a == b", 1, "unknown function 'a'"),
    ("(success()", 11, "expected ')'"),
    ("1 == 2 == 3", 8, "unexpected '=='"),
])
def test_a_bad_expression_names_the_column(text: str, column: int, says: str) -> None:
    with pytest.raises(ExprError) as caught:
        expr.parse(text)
    assert caught.value.column == column
    assert says in str(caught.value) and str(caught.value).startswith(f"column {column}: ")


def test_limits_bound_length_depth_and_tokens() -> None:
    with pytest.raises(ExprError, match="longer than 1024"):
        expr.parse("'" + "a" * 1100 + "'")
    with pytest.raises(ExprError, match="nests deeper than 32"):
        expr.parse("(" * 40 + "true" + ")" * 40)
    with pytest.raises(ExprError, match="nests deeper than 32"):
        expr.parse("!" * 40 + "true")
    with pytest.raises(ExprError, match="more than 256 tokens"):
        expr.parse("||".join(["1"] * 200))
    expr.parse("(" * 30 + "true" + ")" * 30)        # within the limit


def test_meaning() -> None:
    assert value("success()") is True
    assert value("success()", ctx(success=False)) is False
    assert value("failure() || cancelled()", ctx(cancelled=True)) is True
    assert value("always()", ctx(success=False, failure=True, cancelled=True)) is True
    assert value("status('a') == 'failed'", ctx(statuses={"a": "failed"})) is True
    assert value("status('a') != 'failed'", ctx(statuses={"a": "failed"})) is False
    assert value("outputs('a').x == 'y'", ctx(outputs={"a": {"x": "y"}})) is True
    assert value("outputs('a').missing == null") is True
    assert value("!outputs('a').missing") is True
    assert value("1 == true") is False              # no coercion between booleans and numbers
    assert value("1 == 1.0") is True
    assert value("'1' == 1") is False


def test_status_checks_are_recognised() -> None:
    assert expr.has_status_check(expr.parse("always() && status('a') == 'x'"))
    assert not expr.has_status_check(expr.parse("status('a') == 'x'"))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="()!&|=' .a1sucefalyotp_-", max_size=60))
def test_any_text_parses_or_names_a_column(text: str) -> None:
    try:
        node = expr.parse(text)
    except ExprError as exc:
        assert 1 <= exc.column <= len(text) + 1
    else:
        expr.evaluate(node, ctx())
