"""Workflow templates from YAML (or JSON) bytes: read, validate, build the model.

``check`` returns every problem (what ``stella workflow validate`` prints); ``load`` and
``from_doc`` raise InvalidWorkflow naming the first one and carrying all of them.
"""

from __future__ import annotations

import copy
from typing import Any

from kit.errors import InvalidWorkflow
from kit.gates.freeze import parse_duration
from kit.workflow import yamlio
from kit.workflow.model import DEFAULT_IF, Backoff, Retry, Step, Template
from kit.workflow.validate import Problem, problems


def check(data: bytes) -> tuple[Any, list[Problem]]:
    """The document in *data* and its problems (the document is None when it cannot be read)."""
    try:
        doc = yamlio.read(data)
    except yamlio.YamlProblem as exc:
        return None, [Problem("(file)", str(exc))]
    return doc, problems(doc)


def load(data: bytes, where: str) -> Template:
    """The template in *data* (YAML or JSON).

    Raises:
        InvalidWorkflow: it cannot be read or has problems; ``problems`` lists every one.
    """
    doc, found = check(data)
    if found:
        raise _invalid(found, where)
    return _build(doc)


def from_doc(doc: Any, where: str) -> Template:
    """The template of an already-parsed document (e.g. stored canonical JSON)."""
    found = problems(doc)
    if found:
        raise _invalid(found, where)
    return _build(doc)


def _invalid(found: list[Problem], where: str) -> InvalidWorkflow:
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return InvalidWorkflow(f"{where}: {found[0]}{more}", problems=tuple((p.path, p.message) for p in found))


def _build(doc: dict[str, Any]) -> Template:
    return Template(name=doc["name"], description=doc.get("description", ""),
                    steps=tuple(_step(s) for s in doc["steps"]))


def _step(doc: dict[str, Any]) -> Step:
    timeout = doc.get("timeout")
    return Step(id=doc["id"], uses=doc["uses"], needs=tuple(doc.get("needs", ())), condition=doc.get("if", DEFAULT_IF),
                settings=copy.deepcopy(doc.get("with", {})), retry=_retry(doc.get("retry")),
                timeout=parse_duration(timeout) if timeout is not None else None,
                continue_on_error=bool(doc.get("continueOnError", False)), outputs=tuple(doc.get("outputs", ())))


def _retry(doc: dict[str, Any] | None) -> Retry:
    if not doc:
        return Retry()
    backoff = doc.get("backoff", {})
    default = Backoff()
    return Retry(limit=doc["limit"], backoff=Backoff(
        duration=parse_duration(backoff["duration"]) if "duration" in backoff else default.duration,
        factor=backoff.get("factor", default.factor),
        cap=parse_duration(backoff["cap"]) if "cap" in backoff else default.cap))
