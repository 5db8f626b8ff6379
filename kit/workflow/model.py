"""The workflow template model: a DAG of typed steps (docs/workflows.md).

Frozen dataclasses built only by :mod:`kit.workflow.load` from a validated document, so
every template in memory is well formed: ids unique, ``needs`` known and acyclic, types
known, settings accepted, conditions parsed. ``to_doc`` gives the normalised document
back; its canonical JSON's sha256 is the template's digest (what runs and the appliance
store refer to).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kit import canonical
from kit.workflow import expr

SCHEMA = "stella/workflow/v1"
DEFAULT_IF = "success()"


@dataclass(frozen=True)
class Backoff:
    """Delay before attempt n+1 = min(cap, duration × factor^(n-1)) seconds."""

    duration: int = 10
    factor: int = 2                 # whole numbers: canonical JSON has no floats
    cap: int = 3600

    def delay(self, attempt: int) -> int:
        """Seconds to wait after failed attempt *attempt* (1-based) before the next one."""
        if self.duration <= 0:
            return 0
        grown = self.duration
        for _ in range(attempt - 1):
            grown *= self.factor
            if grown >= self.cap:
                return self.cap
        return min(self.cap, grown)


@dataclass(frozen=True)
class Retry:
    limit: int = 0                  # extra attempts after the first
    backoff: Backoff = field(default_factory=Backoff)


@dataclass(frozen=True)
class Step:
    id: str
    uses: str
    needs: tuple[str, ...] = ()
    condition: str = DEFAULT_IF     # the ``if`` text as written (default ``success()``)
    settings: Mapping[str, Any] = field(default_factory=dict)    # ``with``; read-only by convention
    retry: Retry = field(default_factory=Retry)
    timeout: int | None = None      # seconds per attempt
    continue_on_error: bool = False
    outputs: tuple[str, ...] = ()   # outputs declared beyond the type's own
    parsed: expr.Node = field(init=False, repr=False, compare=False)
    """The condition as a syntax tree, ``success() && (…)`` when it has no status check."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "parsed", _effective(self.condition))


def _effective(text: str) -> expr.Node:
    node = expr.parse(text)
    if expr.has_status_check(node):
        return node
    return expr.Binary("&&", expr.Call("success"), node)


@dataclass(frozen=True)
class Template:
    name: str
    steps: tuple[Step, ...]
    description: str = ""

    def step(self, ident: str) -> Step:
        for s in self.steps:
            if s.id == ident:
                return s
        raise KeyError(ident)

    def to_doc(self) -> dict[str, Any]:
        """The normalised document (defaults written out), as JSON data."""
        doc: dict[str, Any] = {"schema": SCHEMA, "name": self.name, "steps": [_step_doc(s) for s in self.steps]}
        if self.description:
            doc["description"] = self.description
        return doc

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(canonical.dumps(self.to_doc())).hexdigest()


def _step_doc(step: Step) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": step.id, "uses": step.uses, "needs": list(step.needs), "if": step.condition,
                           "with": dict(step.settings), "continueOnError": step.continue_on_error,
                           "outputs": list(step.outputs)}
    if step.retry.limit:
        b = step.retry.backoff
        doc["retry"] = {"limit": step.retry.limit, "backoff": {
            "duration": format_duration(b.duration), "factor": b.factor, "cap": format_duration(b.cap)}}
    if step.timeout is not None:
        doc["timeout"] = format_duration(step.timeout)
    return doc


def format_duration(seconds: int) -> str:
    """*seconds* as the template writes durations: ``1d2h30m``, ``90s`` → ``1m30s``, ``0s``."""
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
