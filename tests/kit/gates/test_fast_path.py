"""The fast policy path gives the reference path's outcome, byte for byte, and still fails closed.

Reference: the whole input document as JSON text, new interpreter, ``query`` (rego.evaluate).
Fast: the input pruned to what the pack reads (kit.gates.needs), built in memory, the pack
compiled once and reused (rego.evaluate_document).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from kit.gates import needs, policy, rego
from kit.gates.decide import GATES, decide
from kit.gates.inputs import file_entry
from kit.gates.rego import Module

ROOT = Path(__file__).resolve().parents[3]
DEFAULT = ROOT / "appliance" / "policy" / "default"
DEFAULT_MODULES = [Module("gate.rego", (DEFAULT / "gate.rego").read_text())]
DEFAULT_DATA = (DEFAULT / "data.json").read_text()
HEAD = "package stella.gate\nimport rego.v1\n"

PACKS: dict[str, str] = {
    # input used wholesale: no pruning at all
    "wholesale": HEAD + 'deny := [sprintf("%v", [input])]\n',
    "walk": HEAD + 'deny := [sprintf("%v", [p]) | walk(input, [p, v]); is_string(v); startswith(v, "CVE")]\n',
    # a finding observed whole: findings kept whole, other keys pruned
    "element-whole": HEAD + 'deny := [sprintf("%v", [f]) | some f in input.findings]\n',
    "marshal": HEAD + 'deny := [json.marshal(input.findings), json.marshal(input.time)]\n',
    "dynamic-key": HEAD + 'deny := [sprintf("%s=%v", [k, f[k]]) |\n'
                          '\tsome f in input.findings; some k in object.keys(f)]\n',
    # field-level pruning: only id/severity/fixed of findings
    "fields": HEAD + 'fixable contains i if {\n\tsome i, f in input.findings\n\tf.fixed_available\n}\n'
                     'deny := [x |\n\tsome f in input.findings\n'
                     '\tx := sprintf("%s %s %v %d %d",\n'
                     '\t\t[f.id, f.severity, f.fixed, count(fixable), count(input.sboms)])\n]\n',
    "strings": HEAD + 'deny := [x |\n\tsome f in input.findings\n\tnot startswith(f.purl, "pkg:npm")\n'
                      '\tx := sprintf("%v", [[f.id, lower(f.severity), count(f.purl), f.fixed]])\n]\n',
}


def finding(i: int, text: str, number: Any) -> dict[str, Any]:
    return {"id": f"CVE-{i}-{text}", "aliases": [text], "advisories": [], "purl": f"pkg:pypi/{text}@{i}",
            "type": "pypi", "name": text, "version": str(number), "severity": ["critical", "high", "low"][i % 3],
            "score": number, "fixed": [text] if i % 2 else [], "fixed_available": bool(i % 2),
            "vex_status": "not_affected" if i % 5 == 0 else "none", "suppressed": i % 7 == 0, "extra": {"n": number}}


def document(texts: list[str], numbers: list[Any]) -> dict[str, Any]:
    findings = [finding(i, t, numbers[i % len(numbers)]) for i, t in enumerate(texts)]
    return {
        "release": {"name": "web", "version": "1.0.0", "created": "2026-01-01T00:00:00Z",
                    "components": [{"service": "web", "digest": "sha256:" + "a" * 64,
                                    "manifests": [{"digest": "sha256:" + "b" * 64, "sboms": None}]}]},
        "sboms": [{"path": "sboms/a.cdx.json", "sha256": "0" * 64, "format": "cyclonedx", "components": 3}],
        "findings": findings,
        "advisories": {"records": 3, "sources": [{"source": "pypa", "snapshot": "2026-01-01T00:00:00Z",
                                                  "snapshotNs": 1767225600000000000}]},
        "environment": {"name": "prod", "order": 3, "stalenessBudgetHours": 1, "note": texts[0] if texts else ""},
        "approvals": [{"user": t, "decision": "approve", "roles": ["approver"], "comment": None, "at": "x"}
                      for t in texts[:2]],
        "provenance": {"kitId": "sha256:" + "c" * 64, "sequence": 7},
        "promotion": {"id": "P-0001", "reason": texts[-1] if texts else ""},
        "time": {"evaluatedAt": "2026-02-01T00:00:00Z", "evaluatedAtNs": 1769904000000000000},
    }


TRICKY = ["plain", 'a"b', "a\\b", "a\\nb", "a\nb", "tab\tx", "é", "ü€😀", "\x00z", "\x1f", "/", "<>&", "'",
          "\u2028", "", "\\u00e9", '\\"', "%s %v", "#", "`raw`", "\ud800", "\x7f"]
NUMBERS: list[Any] = [0, -5, 7, 2**62, -(2**63), 2**63 - 1]


def both(modules: list[Module], data: str | None, doc: dict[str, Any], limit: float = 20) -> rego.RegoOutcome:
    fast = rego.evaluate_document(modules, data, doc, limit)
    ref = rego.evaluate(modules, data, rego.input_json(doc), limit)
    assert fast == ref
    if fast.ok:                                         # and the fast path itself produced it (no fallback)
        assert rego._pack(modules, data).compiled_in_child
    return fast


@pytest.mark.parametrize("name", sorted(PACKS))
def test_packs_agree_on_tricky_strings(name: str) -> None:
    modules = [Module("gate.rego", PACKS[name])]
    doc = document(TRICKY, NUMBERS)
    first = both(modules, None, doc)
    assert first.ok and first.deny                     # each of these packs evaluates (the fast path's case)
    assert first == both(modules, None, doc)           # second use: the pack is built in this process
    assert both(modules, None, document(TRICKY[::-1], NUMBERS[::-1])).ok in (True, False)


def test_default_pack_agrees_and_prunes() -> None:
    doc = document(TRICKY, NUMBERS)
    out = both(DEFAULT_MODULES, DEFAULT_DATA, doc)
    assert out.ok and out.deny                          # stale advisories, missing SBOM, findings
    seen = needs.scan(m.text for m in DEFAULT_MODULES)
    assert seen is not None and "approvals" not in seen.keys and "promotion" not in seen.keys
    assert seen.fields["findings"] == ("fixed", "fixed_available", "id", "purl", "severity", "vex_status")
    pruned = needs.prune(doc, seen)
    assert set(pruned) == {"advisories", "environment", "findings", "release", "sboms", "time"}
    assert set(pruned["findings"][0]) == set(seen.fields["findings"]) and pruned["sboms"] == [{}]


@pytest.mark.parametrize("number", [1.5, 2**63, -(2**63) - 1, 10**30])
def test_values_only_the_json_text_renders_fall_back(number: Any) -> None:
    doc = document(["a", "b"], [number])
    assert rego.build_input(doc) is None
    for name in ("wholesale", "element-whole", "fields"):
        both([Module("gate.rego", PACKS[name])], None, doc)


@pytest.mark.parametrize("text, kind", [
    (HEAD + "deny := [\n", "syntax"),
    ("package stella.gate\nallow := true\n", "undefined"),
    ('package stella.gate\ndeny := {"a": 1}\n', "bad-result"),
    (HEAD + 'deny := [sprintf("fixed in %s", [concat(", ", ["1", "2"])])]\n', "runtime"),
    (HEAD + "deny := [x | some f in input.findings; x := f.nope]\nx := y\n", None),
])
def test_failures_are_the_reference_failures(text: str, kind: str | None) -> None:
    out = both([Module("gate.rego", text)], None, document(["a"], [1]))
    if kind is not None:
        assert not out.ok and out.kind == kind


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(st.text(min_size=0, max_size=12), min_size=1, max_size=8),
       numbers=st.lists(st.integers(min_value=-(2**64), max_value=2**64), min_size=1, max_size=4),
       pack=st.sampled_from(sorted(PACKS) + ["default"]))
def test_random_documents_agree(texts: list[str], numbers: list[int], pack: str) -> None:
    if pack == "default":
        both(DEFAULT_MODULES, DEFAULT_DATA, document(texts, numbers))
    else:
        both([Module("gate.rego", PACKS[pack])], None, document(texts, numbers))


@pytest.mark.parametrize("text, expect", [
    (HEAD + "deny := [x | x := input]\n", None),
    (HEAD + 'deny := [x | x := input["findings"]]\n', None),
    (HEAD + "import input\ndeny := []\n", None),
    (HEAD + "deny := [1 | true] if { true with input as {} }\n", None),
    (HEAD + 'deny := [$"x"]\n', None),
    (HEAD + "# input wholesale in a comment\ndeny := [\"input\"]\n", needs.Needs(frozenset(), {})),
    (HEAD + "deny := [f.id | some f in input.findings]\nn := count(input.sboms)\n",
     needs.Needs(frozenset({"findings", "sboms"}), {"findings": ("id",), "sboms": ()})),
    (HEAD + "deny := [f.id | some f in input.findings]\ng(f) := f.x\n",
     needs.Needs(frozenset({"findings"}), {})),
    (HEAD + "deny := [f.id | some f in input.findings]\nh := input.findings[0].x\n",
     needs.Needs(frozenset({"findings"}), {})),
    (HEAD + "import input.findings as fs\ndeny := [f.id | some f in fs]\n", needs.Needs(frozenset({"findings"}), {})),
    (HEAD + "deny := [s.source | some s in input.advisories.sources]\n",
     needs.Needs(frozenset({"advisories"}), {})),
    (HEAD + "ok if { every _, f in input.findings { f.ok } }\ndeny := [f.id | some f in input.findings]\n",
     needs.Needs(frozenset({"findings"}), {"findings": ("id", "ok")})),
])
def test_scan(text: str, expect: needs.Needs | None) -> None:
    assert needs.scan([text]) == expect


def test_runaway_policy_still_stopped() -> None:
    slow = HEAD + 'slow contains x if { some f in input.findings; x := f }\ndeny := [m | count(slow) < 0; m := "n"]\n'
    doc = {"findings": [{"i": i} for i in range(20000)]}
    for _ in range(2):                                  # cold, then with the pack built in this process
        started = time.monotonic()
        out = rego.evaluate_document([Module("gate.rego", slow)], None, doc, 0.5)
        assert time.monotonic() - started < 3
        assert not out.ok and out.kind == "timeout" and "time limit" in out.error


def test_pack_is_built_once_and_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Many releases, one pack (stella reevaluate, the server): built once in this process."""
    built: list[int] = []
    compile_ = rego._compile

    def counting(pack: Any) -> Any:
        built.append(1)                                 # counted in this process only (children are forks)
        return compile_(pack)

    monkeypatch.setattr(rego, "_compile", counting)
    modules = [Module("gate.rego", PACKS["fields"] + "# reuse\n")]
    for i in range(4):
        both(modules, None, document([f"t{i}", "x", str(i)], [i, -i]))
    pack = rego._pack(modules, None)
    assert pack.compiled_in_child and pack.prepared is not None and len(built) == 1


def gate_inputs(n: int, pack_files: list[dict[str, str]] | None = None) -> dict[str, Any]:
    if str(ROOT / "bench") not in sys.path:
        sys.path.insert(0, str(ROOT / "bench"))
    from gates import make_inputs  # the benchmark's release (bench/gates.py)
    inputs = make_inputs(n)
    if pack_files is not None:
        inputs["policy"] = {"name": "t#1", "files": pack_files}
    return inputs


@pytest.mark.parametrize("pack", ["default", "wholesale", "element-whole"])
def test_gate_and_decision_record_unchanged(pack: str, monkeypatch: pytest.MonkeyPatch) -> None:
    files = None if pack == "default" else [file_entry("gate.rego", PACKS[pack])]
    inputs = gate_inputs(300, files)
    fast = policy.evaluate(inputs)
    ref = policy.evaluate_reference(inputs)
    assert fast == ref
    record = decide(inputs).record_bytes()
    module = sys.modules["kit.gates.decide"]
    monkeypatch.setattr(module, "GATES", ((policy.NAME, policy.evaluate_reference), *GATES[1:]))
    assert decide(inputs).record_bytes() == record


# Each builtin a pack may call with an in-memory input (rego.IN_MEMORY_BUILTINS), applied to
# arrays or array elements of the input: the in-memory input must answer as the JSON text does.
ARRAYS = {"a": [3, 1, 2], "s": ["b", "a", "ab"], "o": [{"k": 1, "v": ["x"]}, {"k": 2, "v": []}], "n": [[1, 2], [3]],
          "v": ["1.2.3", "1.10.0"], "f": [{"id": 'q"', "fixed": ["é", "a\\b"]}]}
BUILTIN_USES = {
    "abs": "abs(input.a[0] - 9)", "array.concat": "array.concat(input.o, input.n)",
    "array.reverse": "array.reverse(input.o)", "array.slice": "array.slice(input.n, 0, 1)",
    "concat": 'concat(",", input.s)', "contains": 'contains(input.f[0].fixed[1], "\\\\")',
    "count": "[count(input.o), count(input.o[0].v)]", "endswith": 'endswith(input.s[2], "b")',
    "format_int": "format_int(input.a[0], 2)", "glob.match": 'glob.match("a*", [], input.s[2])',
    "indexof": 'indexof(input.s[2], "b")', "intersection": "intersection({{x | some x in input.a}, {1}})",
    "is_array": "[is_array(input.n[0]), is_array(input.o)]", "is_boolean": "is_boolean(input.a[0])",
    "is_null": "is_null(input.a[0])", "is_number": "is_number(input.a[1])", "is_object": "is_object(input.o[0])",
    "is_set": "is_set(input.a)", "is_string": "is_string(input.s[0])", "lower": "lower(input.f[0].id)",
    "max": "max(input.a)", "min": "min(input.a)", "numbers.range": "numbers.range(input.a[1], input.a[0])",
    "object.get": 'object.get(input.o[0], "v", [])', "object.keys": "object.keys(input.o[0])",
    "object.union": 'object.union(input.o[0], {"w": input.n})', "regex.match": 'regex.match("^a", input.s[1])',
    "replace": 'replace(input.f[0].fixed[0], "é", "e")', "round": "round(input.a[0])",
    "semver.compare": "semver.compare(input.v[0], input.v[1])", "semver.is_valid": "semver.is_valid(input.v[1])",
    "sort": "[sort(input.a), sort(input.s), sort(input.n)]", "split": 'split(input.s[2], "")',
    "sprintf": 'sprintf("%v %s %d", [input.o, input.f[0].fixed[0], input.a[0]])',
    "startswith": 'startswith(input.s[2], "a")', "strings.any_prefix_match": 'strings.any_prefix_match(input.s, "a")',
    "substring": "substring(input.s[2], 1, 1)", "sum": "sum(input.a)",
    "to_number": 'to_number(input.v[0] == "1")',
    "trim": 'trim(input.s[2], "a")', "trim_prefix": 'trim_prefix(input.s[2], "a")',
    "trim_space": "trim_space(input.s[0])", "trim_suffix": 'trim_suffix(input.s[2], "b")',
    "type_name": "[type_name(input.a), type_name(input.o[0]), type_name(input.n[0])]",
    "union": "union({{x | some x in input.a}, {x | some x in input.s}})", "upper": "upper(input.s[2])",
}
LANGUAGE = ["input.a == [3, 1, 2]", "input.n[0] == [1, 2]", "input.o == input.o", "2 in input.a", "input.a",
            "{x | some x in input.o}", "[y | some x in input.n; some y in x]", "{x | some x in input.a} | {9}",
            '{"x": input.a, "y": input.o}', "[input.a, input.s]", 'input.s[_] == "a"', "input",
            "[input.a < input.n[0], input.s[0] < input.s[1], input.n[1] > input.n[0]]",
            "{x | some x in input.a} - {1}", "{x | some x in input.a} & {1, 2}", "input.a[0] * 2 / 3 - 1",
            'input.o[0] == {"k": 1, "v": ["x"]}', "[v | some v in input.o[0]]", "[k | some k, _ in input.o]",
            "{k: v | some k, v in input.s}", "[x | x := input.n[_][_]]"]
# whole queries (destructuring an input array)
LANGUAGE_QUERIES = ["[p, q, r] = input.a; x := [p, q, r]", "[y, z] = input.n; x := [z, y]",
                    "[{\"k\": k, \"v\": v}, _] = input.o; x := [k, v]"]


def query_both(expr: str) -> tuple[str, str]:
    import regopy

    fast = regopy.Interpreter()
    handle = rego.build_input(ARRAYS)
    assert handle is not None
    assert rego._native().set_input(fast._impl, handle) == 0
    rego._native().free(handle)
    ref = regopy.Interpreter()
    ref.set_input_term(rego.input_json(ARRAYS))
    query = expr if expr in LANGUAGE_QUERIES else f"x := {expr}"
    return str(fast.query(query)), str(ref.query(query))


def test_in_memory_builtins_are_all_checked() -> None:
    assert set(BUILTIN_USES) == rego.IN_MEMORY_BUILTINS


@pytest.mark.parametrize("expr", [*BUILTIN_USES.values(), *LANGUAGE, *LANGUAGE_QUERIES])
def test_in_memory_builtins(expr: str) -> None:
    fast, ref = query_both(expr)
    assert fast == ref and ref != "undefined"


def test_serializers_differ_on_in_memory_arrays() -> None:
    """Why the list exists: rego-cpp 1.5.2's regoInputArray elements lack their Term node.
    If this starts failing, regopy changed: re-check and widen IN_MEMORY_BUILTINS."""
    fast, ref = query_both("json.marshal(input.a)")
    assert fast == "undefined" and ref != fast
    modules = [Module("gate.rego", PACKS["marshal"])]
    assert not rego._in_memory_ok(rego._pack(modules, None), __import__("regopy").Interpreter())
    assert rego._in_memory_ok(rego._pack(DEFAULT_MODULES, DEFAULT_DATA), __import__("regopy").Interpreter())
