"""Gate results and decisions: what ``kit.gates.decide`` returns and the record it seals.

A gate answers ``pass``, ``fail`` or ``skipped`` (with the reason it did not apply) and a
trace: the facts it looked at and which rule fired. A decision passes when no gate
fails. The decision record (docs/gates.md, docs/schemas/decision-record.schema.json) is
canonical JSON built only from the inputs, so replaying the same inputs gives the same
bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kit import canonical

PASS, FAIL, SKIPPED = "pass", "fail", "skipped"
VERDICTS = (PASS, FAIL, SKIPPED)
RECORD_TYPE = "stella/decision-record"
FORMAT_VERSION = "1.0"


@dataclass(frozen=True)
class GateResult:
    name: str
    verdict: str          # pass | fail | skipped
    reason: str
    trace: dict[str, Any]

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"gate verdict must be one of {VERDICTS}, not {self.verdict!r}")

    @property
    def blocks(self) -> bool:
        return self.verdict == FAIL

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "verdict": self.verdict, "reason": self.reason, "trace": self.trace}


@dataclass(frozen=True)
class Decision:
    verdict: str                           # pass | fail
    gates: tuple[GateResult, ...]
    subject: dict[str, Any]                # promotion id, release, environment
    evaluated_at: str
    input_digests: dict[str, str]          # input name -> sha256:<hex> of its canonical JSON

    @property
    def blocking(self) -> tuple[str, ...]:
        return tuple(g.name for g in self.gates if g.blocks)

    def gate(self, name: str) -> GateResult:
        return next(g for g in self.gates if g.name == name)

    def record(self) -> dict[str, Any]:
        """The decision record (a pure function of the inputs)."""
        return {"_type": RECORD_TYPE, "formatVersion": FORMAT_VERSION, "subject": self.subject,
                "evaluatedAt": self.evaluated_at, "verdict": self.verdict, "blocking": list(self.blocking),
                "gates": [g.to_dict() for g in self.gates], "inputs": dict(sorted(self.input_digests.items()))}

    def record_bytes(self) -> bytes:
        return canonical.dumps(self.record())

    def digest(self) -> str:
        return "sha256:" + canonical.sha256_hex(self.record_bytes())
