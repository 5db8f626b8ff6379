"""For each deployed release and pending promotion: findings and gate verdicts before and after.

The same evaluation a promotion uses (``appliance.promotions.service._evaluate``: inputs
from the database and content store, ``kit.gates.decide``) runs twice on the scratch
copy, before and after the import, at one moment, so only the kit makes a difference.
Findings come from the decision's own inputs (``kit.gates.findings.compute``, VEX applied).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from appliance.home import Home
from appliance.promotions import states, store
from appliance.promotions.service import _evaluate
from appliance.promotions.store import Promotion
from kit.gates import Decision
from kit.gates.findings import compute, finding_fact

WATCHED = (states.AWAITING, states.APPROVED, states.DEPLOYED)
Evaluation = tuple[Decision, dict[str, Any]]


def watched(db: sqlite_utils.Database) -> list[Promotion]:
    """Pending promotions and current deployments (what ``stella reevaluate`` looks at)."""
    return store.listing(db, f"WHERE state IN ({', '.join('?' * len(WATCHED))})", list(WATCHED))


def evaluate(home: Home, db: sqlite_utils.Database, promotions: list[Promotion],
             at: dt.datetime) -> dict[str, Evaluation]:
    return {p.id: _evaluate(home, db, p, at) for p in promotions}


def _active(docs: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(f.id, f.purl): finding_fact(f) for f in compute(docs).active}


@dataclass(frozen=True)
class Impact:
    promotion: Promotion
    verdict: tuple[str, str]                     # before, after
    gates: tuple[dict[str, str], ...]            # {gate, before, after, reason} for each verdict that changes
    appear: tuple[dict[str, Any], ...]
    disappear: tuple[dict[str, Any], ...]

    @property
    def changes_verdict(self) -> bool:
        return bool(self.gates) or self.verdict[0] != self.verdict[1]

    def to_dict(self) -> dict[str, Any]:
        p = self.promotion
        return {"promotion": p.id, "release": p.release, "environment": p.environment, "state": p.state,
                "verdict": {"before": self.verdict[0], "after": self.verdict[1]}, "gates": list(self.gates),
                "findings": {"appear": list(self.appear), "disappear": list(self.disappear),
                             "appearBySeverity": _by_severity(self.appear),
                             "disappearBySeverity": _by_severity(self.disappear)}}


def _by_severity(findings: tuple[dict[str, Any], ...]) -> dict[str, int]:
    return dict(sorted(Counter(str(f["severity"]) for f in findings).items()))


def compare(p: Promotion, before: Evaluation, after: Evaluation) -> Impact:
    (d0, docs0), (d1, docs1) = before, after
    gates = tuple({"gate": g.name, "before": d0.gate(g.name).verdict if _has(d0, g.name) else "absent",
                   "after": g.verdict, "reason": g.reason}
                  for g in d1.gates if not _has(d0, g.name) or d0.gate(g.name).verdict != g.verdict)
    a, b = _active(docs0), _active(docs1)
    return Impact(p, (d0.verdict, d1.verdict), gates,
                  tuple(b[k] for k in sorted(b.keys() - a.keys())), tuple(a[k] for k in sorted(a.keys() - b.keys())))


def _has(decision: Decision, name: str) -> bool:
    return any(g.name == name for g in decision.gates)
