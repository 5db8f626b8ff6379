"""The outbox read back (read-only): what ``notify`` steps said, newest first, for the
service's ``GET /api/v1/outbox`` and the console's outbox page. The entries are written by
appliance/runs/acts/notify.py in the transaction that ends the step."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlite_utils


@dataclass(frozen=True)
class Entry:
    id: int
    run_id: str | None
    step: str | None
    severity: str
    message: str
    webhook: str | None
    created_at: str
    delivered_at: str | None
    delivery: str | None          # "HTTP 200", or why it was not delivered

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "run": self.run_id, "step": self.step, "severity": self.severity,
                "message": self.message, "webhook": self.webhook, "createdAt": self.created_at,
                "deliveredAt": self.delivered_at, "delivery": self.delivery}


def listing(db: sqlite_utils.Database, limit: int, before: int | None = None,
            run_id: str | None = None) -> list[Entry]:
    """At most *limit* entries with an id below *before* (all when None), newest first."""
    where: list[str] = ["id < ?"]
    args: list[Any] = [before if before is not None else 2**63 - 1]
    if run_id is not None:
        where.append("run_id = ?")
        args.append(run_id)
    rows = db.execute("SELECT id, run_id, step, severity, message, webhook, created_at, delivered_at, delivery "
                      f"FROM outbox WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?", [*args, limit])
    return [Entry(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], _delivery(r[8])) for r in rows]


def _delivery(text: str | None) -> str | None:
    """The column holds JSON text (notify.py writes ``json.dumps(delivery)``)."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return str(value)
