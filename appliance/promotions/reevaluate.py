"""Re-evaluation after new advisories: the policy gate of every deployed or pending release.

For each promotion that is pending (awaiting-approval, approved) or whose deployment is
current (deployed), the gates are evaluated again with today's advisory index and a new
decision record is stored (purpose ``reevaluate``). A change is a policy verdict that
differs from the promotion's previous record. ``stella status`` flags deployed releases
whose latest record fails the policy gate (:func:`flagged`).

Every target is evaluated in this process, one after the other, so the policy pack is
compiled once and reused across releases (kit.gates.rego keeps it per process: the first
evaluation compiles it in its time-limited child, the next ones run on the pack built
here), and each child reads only the part of the input the pack uses (docs/gates.md,
"How the evaluation runs"). The records are the ones a single evaluation would write.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from appliance import audit
from appliance.home import Home
from appliance.promotions import states, store
from appliance.promotions.service import _evaluate
from appliance.store.db import transaction
from kit import canonical
from kit.timeutil import format_time, now


@dataclass(frozen=True)
class Change:
    promotion: str
    release: str
    environment: str
    state: str
    before: str | None
    after: str
    reason: str
    decision: str

    def to_dict(self) -> dict[str, Any]:
        return {"promotion": self.promotion, "release": self.release, "environment": self.environment,
                "state": self.state, "before": self.before, "after": self.after, "reason": self.reason,
                "decision": self.decision}


def _previous_policy(db: sqlite_utils.Database, promotion_id: str) -> str | None:
    row = db.execute("SELECT policy FROM decision_records WHERE promotion_id = ? ORDER BY created_at DESC, "
                     "rowid DESC LIMIT 1", [promotion_id]).fetchone()
    return row[0] if row else None


def run(home: Home, db: sqlite_utils.Database, actor: str, at: dt.datetime | None = None) -> list[Change]:
    """Every target re-evaluated; returns one Change per target (changed or not)."""
    moment = at or now()
    when = format_time(moment)
    targets = store.listing(db, "WHERE state IN (?, ?, ?)", [states.AWAITING, states.APPROVED, states.DEPLOYED])
    results = []
    with transaction(db):
        for p in targets:
            before = _previous_policy(db, p.id)
            decision, docs = _evaluate(home, db, p, moment)
            digest = store.save_decision(db, decision, docs, promotion_id=p.id, purpose="reevaluate",
                                         actor=actor, at=when)
            gate = decision.gate("policy")
            results.append(Change(p.id, p.release, p.environment, p.state, before, gate.verdict, gate.reason, digest))
        changed = [c.to_dict() for c in results if c.before != c.after]
        db.execute("INSERT INTO reevaluations (at, actor, changes) VALUES (?, ?, ?)",
                   [when, actor, canonical.dumps(changed).decode()])
        audit.append(db, actor, "gates.reevaluate", {"evaluated": len(results), "changes": changed}, when)
    return results


def flagged(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Deployed releases whose latest decision record fails the policy gate."""
    out = []
    for p in store.listing(db, "WHERE state = ?", [states.DEPLOYED]):
        row = db.execute("SELECT policy, record, created_at FROM decision_records WHERE promotion_id = ? "
                         "ORDER BY created_at DESC, rowid DESC LIMIT 1", [p.id]).fetchone()
        if row and row[0] == "fail":
            gate = next(g for g in canonical.loads(row[1])["gates"] if g["name"] == "policy")
            out.append({"promotion": p.id, "release": p.release, "environment": p.environment,
                        "since": row[2], "reason": gate["reason"]})
    return out
