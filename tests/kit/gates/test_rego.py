"""The Rego runner fails closed: syntax, runtime, undefined, bad result, timeout."""

from __future__ import annotations

import json
import time

import pytest

from kit.gates.rego import Module, evaluate

OK = ('package stella.gate\nimport rego.v1\n'
      'deny := [m | some f in input.findings; f.severity == "critical"; m := f.id]\n')


def run(text: str, doc: object = None, limit: float = 10.0):
    return evaluate([Module("gate.rego", text)], None, json.dumps(doc or {"findings": []}), limit)


def test_ok_and_deny() -> None:
    assert run(OK).ok and run(OK).deny == ()
    out = run(OK, {"findings": [{"id": "CVE-1", "severity": "critical"}, {"id": "CVE-2", "severity": "low"}]})
    assert out.ok and out.deny == ("CVE-1",)


@pytest.mark.parametrize("text, kind", [
    ("package stella.gate\ndeny := [\n", "syntax"),
    ("package stella.gate\nallow := true\n", "undefined"),
    ("package stella.gate\ndeny := {\"a\": 1}\n", "bad-result"),
    ("package stella.gate\nimport rego.v1\ndeny := [concat(\", \", [\"a\"]) | true]\n"
     "x := sprintf(\"%s\", [concat(\",\", [\"a\", \"b\"])])\n"
     "deny2 := [sprintf(\"%s\", [concat(\", \", [\"a\"])])]\n", None),
])
def test_errors_fail_closed(text: str, kind: str | None) -> None:
    out = run(text)
    if kind is None:
        return                                  # just must not raise
    assert not out.ok and out.kind == kind and out.error


def test_broken_output_is_a_runtime_error() -> None:
    text = 'package stella.gate\nimport rego.v1\ndeny := [sprintf("fixed in %s", [concat(", ", ["1", "2"])])]\n'
    out = run(text)
    assert not out.ok and out.kind == "runtime"


def test_timeout_fails_closed() -> None:
    slow = ('package stella.gate\nimport rego.v1\nslow contains x if { some f in input.findings; x := f }\n'
            'deny := [m | count(slow) < 0; m := "never"]\n')
    doc = {"findings": [{"i": i} for i in range(20000)]}
    started = time.monotonic()
    out = run(slow, doc, limit=0.5)
    assert time.monotonic() - started < 3
    assert not out.ok and out.kind == "timeout" and "time limit" in out.error
