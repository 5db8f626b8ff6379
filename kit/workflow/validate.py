"""Every problem of a workflow document, each named by its path (``steps[3].with.window``).

Two passes: the JSON Schema (docs/schemas/workflow.schema.json: the envelope and each step
type's settings), then what a schema cannot say: duplicate ids, unknown ``needs``, cycles,
conditions that do not parse or read steps that have not finished, references to other
steps in settings, whole numbers, durations in range.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jsonschema

from kit.errors import KitFormatError
from kit.gates.freeze import parse_duration
from kit.schema import validator
from kit.workflow import expr, probeexpr
from kit.workflow.schemadoc import MAX_STEPS
from kit.workflow.steps import REGISTRY
from kit.workflow.steps.base import DURATION, StepType

MAX_PROBLEMS = 200
MAX_NEEDS = 4096            # ``needs`` entries over all steps (a 500-step fan-out/fan-in has ~1000)
_DURATION = re.compile(str(DURATION["pattern"]))


@dataclass(frozen=True, order=True)
class Problem:
    path: str            # "steps[3].with.window"; "(top)" for the document itself
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def path_text(parts: Sequence[str | int]) -> str:
    """``steps[3].with.window``; a key that is not a plain name is quoted (``.["a b"]``), cut to 80."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            text += f".{part}" if text else part
        else:
            text += f"[{_short(part)}]"
    return text or "(top)"


def printable(text: str) -> str:
    """*text* with control characters escaped, so a problem stays one line on a terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def problems(doc: Any) -> list[Problem]:
    """Every problem of *doc* (at most ``MAX_PROBLEMS``), in document order; empty when valid.

    A document over the size limits gets that one problem and no other check (each pass costs
    time in proportion to its size).
    """
    too_big = _size_problems(doc)
    if too_big:
        return too_big
    found = list(_schema_problems(doc))
    if isinstance(doc, dict) and isinstance(doc.get("steps"), list):
        found.extend(_semantic_problems([s if isinstance(s, dict) else {} for s in doc["steps"]]))
    flagged = {p.path for p in found}
    found.extend(p for p in _floats(doc, []) if p.path not in flagged)
    unique = sorted({Problem(printable(p.path), printable(p.message)) for p in found}, key=_order)
    return unique[:MAX_PROBLEMS]


def _size_problems(doc: Any) -> list[Problem]:
    steps = doc.get("steps") if isinstance(doc, dict) else None
    if not isinstance(steps, list):
        return []
    if len(steps) > MAX_STEPS:
        return [Problem("steps", f"{len(steps)} steps: at most {MAX_STEPS}")]
    edges = sum(len(s["needs"]) for s in steps if isinstance(s, dict) and isinstance(s.get("needs"), list))
    if edges > MAX_NEEDS:
        return [Problem("steps", f"{edges} needs in all: at most {MAX_NEEDS}")]
    return []


def _order(p: Problem) -> tuple[list[tuple[int, str]], str]:
    return [(int(n), "") if n.isdigit() else (-1, n) for n in re.findall(r"\d+|[^.\[\]]+", p.path)], p.message


# --- the schema pass ------------------------------------------------------------------------

def _schema_problems(doc: Any) -> Iterator[Problem]:
    for error in validator("workflow").iter_errors(doc):
        yield from _explain(error, doc)


def _explain(error: jsonschema.ValidationError, doc: Any) -> Iterator[Problem]:
    where = list(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}
    in_with = len(where) >= 3 and where[0] == "steps" and where[2] == "with"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        accepted = sorted(schema.get("properties", {}))
        for key in sorted(set(error.instance) - set(accepted)):
            what = f"not a setting of step type {_uses(doc, where)}" if in_with else "unknown key"
            yield Problem(path_text([*where, key]), f"{what} (accepted: {', '.join(accepted) or 'none'})")
    elif error.validator == "required" and isinstance(error.validator_value, list):
        for key in error.validator_value:
            if isinstance(error.instance, dict) and key not in error.instance:
                yield Problem(path_text([*where, key]), "required")
    elif error.validator == "enum" and where[-1:] == ["uses"]:
        yield Problem(path_text(where), f"unknown step type {error.instance!r} (known: {', '.join(sorted(REGISTRY))})")
    elif error.validator == "pattern" and schema.get("pattern") == DURATION["pattern"]:
        yield Problem(path_text(where), f"not a duration: {_short(error.instance)} (use e.g. 90s, 5m, 1h30m, 2d)")
    elif error.validator == "const" and where == ["schema"]:
        yield Problem("schema", f"unknown schema {_short(error.instance)} "
                                f"(this appliance reads {error.validator_value})")
    else:
        message = error.message if len(error.message) <= 200 else error.message[:200] + "…"
        yield Problem(path_text(where), message)


def _uses(doc: Any, where: list[Any]) -> str:
    try:
        return str(doc["steps"][where[1]]["uses"])
    except (KeyError, IndexError, TypeError):
        return "?"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:80] + "…"


def _floats(value: Any, where: list[str | int]) -> Iterator[Problem]:
    if isinstance(value, float):
        yield Problem(path_text(where), f"{value!r}: use a whole number")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _floats(item, [*where, key])
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _floats(item, [*where, i])


# --- the semantic pass ----------------------------------------------------------------------

def _ids(steps: list[dict[str, Any]]) -> dict[str, int]:
    first: dict[str, int] = {}
    for i, step in enumerate(steps):
        if isinstance(step.get("id"), str):
            first.setdefault(step["id"], i)
    return first


def _needs(step: Mapping[str, Any]) -> list[str]:
    needs = step.get("needs")
    return [n for n in needs if isinstance(n, str)] if isinstance(needs, list) else []


def _semantic_problems(steps: list[dict[str, Any]]) -> Iterator[Problem]:
    index = _ids(steps)
    for i, step in enumerate(steps):
        ident = step.get("id")
        if isinstance(ident, str) and index[ident] != i:
            yield Problem(f"steps[{i}].id", f"duplicate id {ident!r} (first at steps[{index[ident]}])")
        for j, need in enumerate(_needs(step)):
            if need not in index:
                yield Problem(f"steps[{i}].needs[{j}]", f"unknown step {need!r}")
        yield from _durations(step, i)
        yield from _settings(step, i)
    yield from _one_deploy(steps)
    yield from _cycles(steps, index)
    ancestors = _ancestors(steps, index)
    for i, step in enumerate(steps):
        if isinstance(step.get("if"), str):
            yield from _condition(step["if"], i, steps, index, ancestors[i])


def _one_deploy(steps: list[dict[str, Any]]) -> Iterator[Problem]:
    """A promotion has one deployment, so a template has at most one ``deploy`` step (a canary
    then the rest is one deploy step with ``strategy: canary``)."""
    deploys = [i for i, step in enumerate(steps) if step.get("uses") == "deploy"]
    for i in deploys[1:]:
        yield Problem(f"steps[{i}].uses", f"a second deploy step (steps[{deploys[0]}] is one): a promotion has one "
                                          "deployment — use one deploy step with a strategy (rolling, canary)")


def _durations(step: Mapping[str, Any], i: int) -> Iterator[Problem]:
    candidates: list[tuple[str, Any]] = [("timeout", step.get("timeout"))]
    retry = step.get("retry")
    if isinstance(retry, dict) and isinstance(retry.get("backoff"), dict):
        candidates += [(f"retry.backoff.{k}", retry["backoff"].get(k)) for k in ("duration", "cap")]
    for name, value in candidates:
        if not isinstance(value, str) or not _DURATION.match(value):
            continue                      # the schema pass reported it
        try:
            seconds = parse_duration(value)
        except KitFormatError as exc:
            yield Problem(f"steps[{i}].{name}", exc.message)
            continue
        if name == "timeout" and seconds == 0:
            yield Problem(f"steps[{i}].timeout", "must be longer than 0s")


def _settings(step: Mapping[str, Any], i: int) -> Iterator[Problem]:
    kind = _kind(step)
    settings = step.get("with", {})
    if kind is None or not isinstance(settings, dict):
        return
    for key, message in kind.check(settings):
        yield Problem(f"steps[{i}].with.{key}", message)
    yield from _probe_expressions(kind.name, settings, i)


def _probe_expressions(kind: str, settings: Mapping[str, Any], i: int) -> Iterator[Problem]:
    """A health probe's expressions that do not parse (a health step's, a deploy's ``health``)."""
    probes = {"health": (settings, "with"), "deploy": (settings.get("health"), "with.health")}
    probe, where = probes.get(kind, (None, ""))
    if not isinstance(probe, dict):
        return
    for key in ("successExpression", "failureExpression"):
        text = probe.get(key)
        if isinstance(text, str) and text and len(text) <= expr.MAX_LENGTH:     # else the schema says
            try:
                probeexpr.parse(text)
            except expr.ExprError as exc:
                yield Problem(f"steps[{i}].{where}.{key}", str(exc))


def _cycles(steps: list[dict[str, Any]], index: dict[str, int]) -> Iterator[Problem]:
    """One problem per cycle, at the ``needs`` of its first step in document order."""
    state: dict[int, int] = {}            # 1 = on the path, 2 = done
    reported: set[frozenset[int]] = set()
    for root in range(len(steps)):
        if root in state:
            continue
        stack: list[tuple[int, Iterator[str]]] = [(root, iter(_needs(steps[root])))]
        path = [root]
        state[root] = 1
        while stack:
            node, children = stack[-1]
            child = next((c for c in children if c in index), None)
            if child is None:
                stack.pop()
                path.pop()
                state[node] = 2
                continue
            j = index[child]
            if state.get(j) == 1:
                loop = path[path.index(j):]
                if frozenset(loop) not in reported:
                    reported.add(frozenset(loop))
                    first = min(loop)
                    at = loop.index(first)
                    names = [str(steps[k].get("id")) for k in loop[at:] + loop[:at]]
                    # ``needs`` points backwards: a needs b needs … needs a
                    yield Problem(f"steps[{first}].needs", "cycle: " + " needs ".join([*names, names[0]]))
            elif j not in state:
                state[j] = 1
                path.append(j)
                stack.append((j, iter(_needs(steps[j]))))


def _ancestors(steps: list[dict[str, Any]], index: dict[str, int]) -> list[frozenset[str]]:
    """Each step's needs, direct and indirect: memoised, each step's set built once from its
    needs' sets (a step on a cycle, reported elsewhere, sees only what was built so far)."""
    memo: dict[int, frozenset[str]] = {}
    building: set[int] = set()
    for root in range(len(steps)):
        stack = [root]
        while stack:
            i = stack[-1]
            if i in memo:
                stack.pop()
                continue
            building.add(i)
            todo = [index[n] for n in _needs(steps[i]) if n in index and index[n] not in memo
                    and index[n] not in building]
            if todo:
                stack.extend(todo)
                continue
            needs = [n for n in _needs(steps[i]) if n in index]
            memo[i] = frozenset(needs).union(*(memo.get(index[n], frozenset()) for n in needs))
            building.discard(i)
            stack.pop()
    return [memo[i] for i in range(len(steps))]


def _condition(text: str, i: int, steps: list[dict[str, Any]], index: dict[str, int],
               ancestors: frozenset[str]) -> Iterator[Problem]:
    where = f"steps[{i}].if"
    try:
        node = expr.parse(text)
    except expr.ExprError as exc:
        yield Problem(where, str(exc))
        return
    for call in expr.calls(node):
        if call.arg is None:
            continue
        if call.arg not in index:
            yield Problem(where, f"{call.name}('{call.arg}'): unknown step")
        elif call.arg not in ancestors:
            yield Problem(where, f"{call.name}('{call.arg}'): not among the step's needs (direct or indirect), "
                                 "so it may not have finished")
        elif call.field is not None:
            declared = _outputs(steps[index[call.arg]])
            if call.field not in declared:
                yield Problem(where, f"outputs('{call.arg}').{call.field}: step {call.arg} has no such output "
                                     f"(it has: {', '.join(sorted(declared)) or 'none'})")


def _kind(step: Mapping[str, Any]) -> StepType | None:
    uses = step.get("uses")
    return REGISTRY.get(uses) if isinstance(uses, str) else None


def _outputs(step: Mapping[str, Any]) -> set[str]:
    kind = _kind(step)
    declared = step.get("outputs")
    own = {o for o in declared if isinstance(o, str)} if isinstance(declared, list) else set()
    return own | set(kind.outputs if kind else ())
