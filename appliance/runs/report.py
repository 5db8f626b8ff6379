"""A run as ``stella run show --json`` and the API give it: the run, its template, every
step (state, attempt, times, outputs, message, log digest and tail) and every attempt."""

from __future__ import annotations

from typing import Any

import sqlite_utils

from appliance.home import Home
from appliance.runs import engine, store

TAIL_BYTES = 2048


def tail(home: Home, run_id: str, step: str, attempt: int, size: int = TAIL_BYTES) -> str:
    path = engine.log_path(home, run_id, step, attempt)
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - size))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def show(home: Home, db: sqlite_utils.Database, run_id: str) -> dict[str, Any]:
    run = store.get(db, run_id)
    from appliance import workflows
    template = workflows.by_digest(db, run.template)
    rows = store.steps(db, run.id)
    steps = []
    for s in template.steps:
        row = rows[s.id]
        doc = {"id": s.id, "uses": s.uses, "needs": list(s.needs), **row.to_dict()}
        doc.pop("step", None)
        doc["logTail"] = tail(home, run.id, s.id, row.attempt) if row.attempt else ""
        steps.append(doc)
    return {"run": run.to_dict(), "steps": steps, "attempts": store.attempts(db, run.id)}
