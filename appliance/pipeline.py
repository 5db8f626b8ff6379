"""The environment pipeline (DEV → … → PROD): per environment, in promotion order, its
configuration (approvals, freeze windows, stop-the-line), the release deployed there
with its deployer, what runs on each target, and the promotions pending for it with
their approvals ``n/m`` and the latest gate verdicts.

Read-only; ``GET /api/v1/environments`` and the console's pipeline page show it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlite_utils

from appliance import environments
from appliance.deploy import inspect
from appliance.promotions import states, store
from kit.gates.freeze import active_occurrence
from kit.timeutil import format_time


def _deployed(db: sqlite_utils.Database, env: str) -> dict[str, Any] | None:
    row = db.execute("SELECT id, promotion_id, release, deployer, finished_at FROM deployments "
                     "WHERE environment = ? AND state = 'deployed' ORDER BY finished_at DESC, id DESC LIMIT 1",
                     [env]).fetchone()
    if row is None:
        return None
    return dict(zip(("deployment", "promotion", "release", "deployer", "deployedAt"), row))


def _pending(db: sqlite_utils.Database, spec: environments.EnvSpec) -> list[dict[str, Any]]:
    out = []
    found = store.listing(db, f"WHERE environment = ? AND state IN ({', '.join('?' * len(states.PENDING))})",
                          [spec.name, *states.PENDING])
    for p in found:
        approved = db.execute("SELECT count(*) FROM approvals WHERE promotion_id = ? AND decision = 'approve'",
                              [p.id]).fetchone()[0]
        latest = store.latest_decision(db, p.id)
        gates = ([{"name": g.get("name"), "verdict": g.get("verdict"), "reason": g.get("reason")}
                  for g in latest[1].get("gates") or []] if latest else [])
        out.append({**p.to_dict(), "approvals": {"have": approved, "need": spec.required_approvals},
                    "verdict": latest[1].get("verdict") if latest else None, "gates": gates})
    return out


def overview(db: sqlite_utils.Database, at: dt.datetime) -> list[dict[str, Any]]:
    """Every environment in promotion order (see the module docstring)."""
    running = inspect.whereis(db)
    out = []
    for spec in environments.ordered(db):
        doc = environments.config(db, spec)
        frozen = []
        for w in doc["freezeWindows"]:
            occurrence = active_occurrence(w, at)
            w["activeNow"] = occurrence is not None
            if occurrence is not None:
                frozen.append({"id": w["id"], "until": format_time(occurrence[1]), "reason": w["reason"]})
        out.append({**doc, "frozen": frozen, "deployed": _deployed(db, spec.name),
                    "targets": [d for d in running if d["environment"] == spec.name],
                    "pending": _pending(db, spec)})
    return out
