"""Probe expressions: what parses, what does not (with the column), what it means over a
response, hostile input, and validation naming the setting's path."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given, settings, strategies as st

from kit.workflow import probeexpr
from kit.workflow.expr import MAX_LENGTH, ExprError
from kit.workflow.probeexpr import Binary, Call, JsonPath, Literal, Not, Var
from kit.workflow.validate import problems


def holds(text: str, status: int = 200, body: str = "") -> bool:
    return probeexpr.holds(probeexpr.parse(text), status, body)


def test_the_grammar_builds_the_tree_with_precedence() -> None:
    assert probeexpr.parse("status >= 200 && status < 400 || !contains(body, 'x')") == Binary(
        "||", Binary("&&", Binary(">=", Var("status"), Literal(200)), Binary("<", Var("status"), Literal(400))),
        Not(Call("contains", (Var("body"), Literal("x")))))
    assert probeexpr.parse("json(body).db.up == true") == Binary("==", JsonPath(("db", "up")), Literal(True))
    assert probeexpr.parse("('it\\'s')") == Literal("it's")
    assert probeexpr.parse("status != -1") == Binary("!=", Var("status"), Literal(-1))


@pytest.mark.parametrize(("text", "status", "body", "expected"), [
    (probeexpr.DEFAULT_SUCCESS, 200, "", True),
    (probeexpr.DEFAULT_SUCCESS, 302, "", True),
    (probeexpr.DEFAULT_SUCCESS, 404, "", False),
    (probeexpr.DEFAULT_SUCCESS, 199, "", False),
    ("status == 503", 503, "", True),
    ("status <= 204 && status > 200", 204, "", True),
    ("contains(body, 'ready')", 200, "all ready now", True),
    ("contains(body, 'ready')", 200, "starting", False),
    ("startsWith(body, 'OK')", 200, "OK fine", True),
    ("startsWith(body,'OK')", 200, "not OK", False),
    ("endsWith(body, 'fine')", 200, "OK fine", True),
    ("body == 'up'", 200, "up", True),
    ("body != 'up'", 200, "up\n", True),
    ("!(status == 200)", 200, "", False),
    ("json(body).status == 'UP'", 200, '{"status": "UP"}', True),
    ("json(body).db.pending < 1", 200, '{"db": {"pending": 0}}', True),
    ("json(body).db.pending < 1", 200, '{"db": {"pending": 3}}', False),
    ("json(body).db.pending == 0", 200, '{"db": {"pending": 0.0}}', True),
    ("json(body).status == 'UP'", 200, "not json {", False),
    ("json(body).status == null", 200, "not json {", True),
    ("json(body).list == null", 200, '{"list": [1, 2]}', True),        # objects and lists read as null
    ("json(body).n > 1", 200, '{"n": "5"}', False),                   # a text does not order
    ("contains(json(body).msg, 'ok')", 200, '{"msg": "all ok"}', True),
    ("contains(json(body).msg, 'ok')", 200, '{"msg": 7}', False),
    ("json(body).ok", 200, '{"ok": true}', True),
    ("json(body).ok == 1", 200, '{"ok": true}', False),               # a boolean is not a number
    ("json(body).big > 1", 200, '{"big": 1' + "0" * 400 + '}', True),  # no overflow to float
    ("true && !false", 500, "", True),
])
def test_meaning(text: str, status: int, body: str, expected: bool) -> None:
    assert holds(text, status, body) is expected


@pytest.mark.parametrize(("text", "column", "says"), [
    ("status = 200", 8, "unexpected character '='"),
    ("status ==", 10, "expected a value, found the end"),
    ("status == 'ok'", 8, "between a number and a text is always false"),
    ("body != 3", 6, "between a text and a number is always true"),
    ("body < 'z'", 6, "'<' compares numbers, not a text"),
    ("true > 1", 6, "compares numbers, not a boolean"),
    ("contains(body)", 14, "expected ','"),
    ("contains(status, 'x')", 10, "contains() takes texts, not a number"),
    ("exec('rm -rf /')", 1, "unknown name 'exec'"),
    ("__import__('os')", 1, "unknown name '__import__'"),
    ("headers == 'x'", 1, "unknown name 'headers'"),
    ("json(status).a", 6, "json() reads the body"),
    ("json(body)", 11, "json(body) needs a field"),
    ("json(body).'a'", 12, "expected a field name"),
    ("status == 1.5", 11, "numbers are whole"),
    ("status == 99999999999999999", 11, "numbers are whole"),
    ("status == 200)", 14, "unexpected ')'"),
    ("(status == 200", 15, "expected ')'"),
    ("status == \"200\"", 11, "unexpected character '\"'"),
    ("status\n== 200", 7, "unexpected character '\\n'"),
    ("   ", 1, "empty expression"),
])
def test_errors_name_the_column(text: str, column: int, says: str) -> None:
    with pytest.raises(ExprError) as caught:
        probeexpr.parse(text)
    assert caught.value.column == column and says in str(caught.value), str(caught.value)
    assert str(caught.value).startswith(f"column {column}: ")


def test_hostile_sizes_are_refused_quickly() -> None:
    started = time.monotonic()
    for text in ["(" * 600 + "true" + ")" * 600, "!" * 1000 + "true", "true" + " && true" * 140,
                 "x" * (MAX_LENGTH + 1), "json(body)" + ".a" * 17,
                 "contains(" * 40 + "body" + ", 'a')" * 40]:
        with pytest.raises(ExprError):
            probeexpr.parse(text)
    assert time.monotonic() - started < 1


def test_hostile_bodies_evaluate_to_a_value() -> None:
    deep = "[" * 100_000 + "]" * 100_000                   # past the JSON parser's recursion limit
    assert holds("json(body).a == null", 200, deep)
    assert holds("json(body).a == null", 200, '{"a": NaN}')
    huge = "x" * 10_000_000 + "needle"                     # only the first 64 KiB is read
    assert not holds("contains(body, 'needle')", 200, huge)
    assert holds("contains(body, 'needle')", 200, "x" * 1000 + "needle")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="statusbodyjcn()!&|=<>'., 0123456789-_", max_size=80))
def test_any_text_parses_or_says_where(text: str) -> None:
    try:
        node = probeexpr.parse(text)
    except ExprError as exc:
        assert 1 <= exc.column <= len(text) + 1
    else:
        probeexpr.evaluate(node, probeexpr.Response(200, '{"a": 1}'))


def _doc(step: dict[str, object]) -> dict[str, object]:
    return {"schema": "stella/workflow/v1", "name": "t", "steps": [
        {"id": "first", "uses": "wait", "with": {"duration": "1s"}}, {"id": "probe", **step}]}


def test_validation_names_the_setting_and_column() -> None:
    doc = _doc({"uses": "health", "with": {"probe": "http", "port": 80, "successExpression": "status == 'ok'",
                                           "failureExpression": "contains(body, 'panic') || status >= 500"}})
    assert [str(p) for p in problems(doc)] == [
        "steps[1].with.successExpression: column 8: '==' between a number and a text is always false"]
    doc = _doc({"uses": "deploy", "with": {"strategy": "canary", "canary": 1, "health": {
        "probe": "http", "port": 80, "failureExpression": "panic"}}})
    assert [str(p) for p in problems(doc)] == [
        "steps[1].with.health.failureExpression: column 1: unknown name 'panic' (variables: body, status; "
        "functions: contains, endsWith, json, startsWith)"]
    good = _doc({"uses": "health", "with": {"probe": "http", "port": 80, "successExpression": "json(body).up == true"}})
    assert problems(good) == []
    blank = _doc({"uses": "health", "with": {"probe": "http", "port": 80, "successExpression": " "}})
    assert [str(p) for p in problems(blank)] == ["steps[1].with.successExpression: column 1: empty expression"]
    assert json.dumps([str(p) for p in problems(_doc({"uses": "health", "with": {
        "probe": "http", "port": 80, "successExpression": "x" * 2000}}))]).count("successExpression") == 1
