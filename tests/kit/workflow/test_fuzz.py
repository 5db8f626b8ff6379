"""Validation never crashes on any document, and whatever it accepts builds a template that
round-trips with a stable digest."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st

from kit.workflow.load import check, from_doc
from kit.workflow.validate import MAX_NEEDS, problems
from tests.kit.workflow.test_load import GOOD

KEYS = ["schema", "name", "steps", "id", "uses", "needs", "if", "with", "retry", "limit", "backoff", "timeout",
        "continueOnError", "outputs", "strategy", "window", "duration", "probe", "port", "gates", "x"]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 600), st.floats(allow_nan=True),
                    st.sampled_from(["", "a", "s0", "gate", "deploy", "wait", "1m", "0s", "rolling", "success()",
                                     "status('a') == 'x'", "stella/workflow/v1", "((", "\x1b[31m"]))
JSONISH = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                        st.dictionaries(st.sampled_from(KEYS), inner, max_size=5)),
                       max_leaves=30)
BASE = check(GOOD)[0]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSONISH)
def test_any_document_gets_problems_not_a_crash(doc: Any) -> None:
    for p in problems(doc):
        assert "\n" not in str(p) and "\x1b" not in str(p)


def _paths(value: Any, where: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [where]
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*where, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*where, i))
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutations_of_a_valid_template_are_refused_or_round_trip(data: st.DataObject) -> None:
    doc = copy.deepcopy(BASE)
    for _ in range(data.draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        where = data.draw(st.sampled_from(paths))
        parent = doc
        for part in where[:-1]:
            parent = parent[part]
        if data.draw(st.booleans()) and isinstance(parent, dict):
            del parent[where[-1]]
        else:
            parent[where[-1]] = data.draw(JSONISH)
    found = problems(doc)
    if not found:
        template = from_doc(doc, "mutated")
        again = from_doc(json.loads(json.dumps(template.to_doc())), "stored")
        assert again == template and again.digest == template.digest


def test_size_limits_come_first() -> None:
    many = {"schema": "stella/workflow/v1", "name": "t", "steps": [{"id": f"s{i}", "uses": "gate"} for i in range(501)]}
    assert [str(p) for p in problems(many)] == ["steps: 501 steps: at most 500"]
    fan = {"schema": "stella/workflow/v1", "name": "t", "steps": [
        {"id": f"s{i}", "uses": "gate", "needs": [f"s{j}" for j in range(max(0, i - 20), i)]} for i in range(300)]}
    edges = sum(len(s["needs"]) for s in fan["steps"])
    assert edges > MAX_NEEDS
    assert [str(p) for p in problems(fan)] == [f"steps: {edges} needs in all: at most {MAX_NEEDS}"]
