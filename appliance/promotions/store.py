"""Promotion rows, their history, approvals and decision records in SQLite.

Decision records are inserted, never updated: every evaluation is a new row keyed by the
record's digest; its input documents are stored once each by digest
(``decision_inputs``), so an evidence packet can be rebuilt from the DB at any time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from appliance import audit
from appliance.errors import DatabaseError
from appliance.promotions import states
from appliance.promotions.errors import MissingInput, UnknownDecision, UnknownPromotion
from kit import canonical
from kit.gates import Decision


@dataclass(frozen=True)
class Promotion:
    id: str
    release_name: str
    release_version: str
    release_sha256: str
    kit_id: str
    release_path: str
    environment: str
    requester: str
    reason: str
    state: str
    created_at: str
    updated_at: str

    @property
    def release(self) -> str:
        return f"{self.release_name}@{self.release_version}"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "release": self.release, "releaseSha256": self.release_sha256, "kitId": self.kit_id,
                "environment": self.environment, "requester": self.requester, "reason": self.reason,
                "state": self.state, "createdAt": self.created_at, "updatedAt": self.updated_at}


_COLS = ("id, release_name, release_version, release_sha256, kit_id, release_path, environment, requester, reason, "
         "state, created_at, updated_at")


def get(db: sqlite_utils.Database, promotion_id: str) -> Promotion:
    row = db.execute(f"SELECT {_COLS} FROM promotions WHERE id = ?", [promotion_id]).fetchone()
    if row is None:
        raise UnknownPromotion(f"unknown promotion {promotion_id!r} (stella promotion list)")
    return Promotion(*row)


def listing(db: sqlite_utils.Database, where: str = "", args: list[Any] | None = None) -> list[Promotion]:
    sql = f"SELECT {_COLS} FROM promotions {where} ORDER BY id"
    return [Promotion(*r) for r in db.execute(sql, args or [])]


def page(db: sqlite_utils.Database, *, after: int | None, limit: int, state: str | None = None,
         environment: str | None = None, newest_first: bool = False) -> list[tuple[int, Promotion]]:
    """Up to *limit* promotions (with their row numbers, the paging key) in request order
    (or newest first), after row *after*, optionally in one state and/or environment."""
    where: list[str] = []
    args: list[Any] = []
    if after is not None:
        where.append("rowid < ?" if newest_first else "rowid > ?")
        args.append(after)
    for column, value in (("state", state), ("environment", environment)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    sql = (f"SELECT rowid, {_COLS} FROM promotions {'WHERE ' + ' AND '.join(where) if where else ''} "
           f"ORDER BY rowid {'DESC' if newest_first else 'ASC'} LIMIT ?")
    return [(r[0], Promotion(*r[1:])) for r in db.execute(sql, [*args, limit])]


def next_id(db: sqlite_utils.Database, table: str, prefix: str) -> str:
    count = db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return f"{prefix}-{count + 1:04d}"


def insert(db: sqlite_utils.Database, p: Promotion) -> None:
    db.execute(f"INSERT INTO promotions ({_COLS}) VALUES ({', '.join('?' * 12)})",
               [p.id, p.release_name, p.release_version, p.release_sha256, p.kit_id, p.release_path, p.environment,
                p.requester, p.reason, p.state, p.created_at, p.updated_at])


def transition(db: sqlite_utils.Database, promotion_id: str, current: str | None, target: str, *, actor: str,
               at: str, note: str, doing: str, details: dict[str, Any] | None = None) -> None:
    """Check, record in history, update the row and append the audit event (in the caller's transaction)."""
    states.check(promotion_id, current, target, doing)
    seq = db.execute("SELECT count(*) FROM promotion_history WHERE promotion_id = ?", [promotion_id]).fetchone()[0]
    db.execute("INSERT INTO promotion_history VALUES (?, ?, ?, ?, ?, ?, ?)",
               [promotion_id, seq + 1, at, actor, current, target, note])
    db.execute("UPDATE promotions SET state = ?, updated_at = ? WHERE id = ?", [target, at, promotion_id])
    audit.append(db, actor, f"promotion.{target}", {"promotion": promotion_id, "from": current, "to": target,
                                                    "note": note, **(details or {})}, at)


def history(db: sqlite_utils.Database, promotion_id: str) -> list[dict[str, Any]]:
    rows = db.execute("SELECT seq, at, actor, from_state, to_state, note FROM promotion_history "
                      "WHERE promotion_id = ? ORDER BY seq", [promotion_id])
    return [{"seq": s, "at": a, "actor": who, "from": f, "to": t, "note": n} for s, a, who, f, t, n in rows]


def approvals(db: sqlite_utils.Database, promotion_id: str) -> list[dict[str, Any]]:
    rows = db.execute("SELECT user, decision, roles, comment, at FROM approvals WHERE promotion_id = ? "
                      "ORDER BY at, user", [promotion_id])
    return [{"user": u, "decision": d, "roles": json.loads(r), "comment": c, "at": a} for u, d, r, c, a in rows]


def save_decision(db: sqlite_utils.Database, decision: Decision, inputs: dict[str, Any], *, promotion_id: str | None,
                  purpose: str, actor: str, at: str) -> str:
    """Store the record and its inputs (content-addressed); returns the record digest."""
    for name, digest in decision.input_digests.items():
        db.execute("INSERT OR IGNORE INTO decision_inputs VALUES (?, ?)",
                   [digest, canonical.dumps(inputs[name]).decode("utf-8")])
    digest = decision.digest()
    subject = decision.subject
    release = f"{subject['release']['name']}@{subject['release']['version']}"
    db.execute("INSERT OR IGNORE INTO decision_records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               [digest, promotion_id, release, subject["environment"], purpose, decision.verdict,
                decision.gate("policy").verdict, at, actor, decision.record_bytes().decode("utf-8")])
    return digest


def latest_decision(db: sqlite_utils.Database, promotion_id: str) -> tuple[str, dict[str, Any]] | None:
    row = db.execute("SELECT digest, record FROM decision_records WHERE promotion_id = ? "
                     "ORDER BY created_at DESC, rowid DESC LIMIT 1", [promotion_id]).fetchone()
    return (row[0], loads_record(row[1])) if row else None


def decision(db: sqlite_utils.Database, digest: str) -> dict[str, Any]:
    row = db.execute("SELECT record FROM decision_records WHERE digest = ?", [digest]).fetchone()
    if row is None:
        raise UnknownDecision(f"unknown decision record {digest}")
    return loads_record(row[0])


def loads_record(text: str) -> dict[str, Any]:
    """A decision record read back from ``decision_records``: canonical JSON this appliance wrote
    (``Decision.record_bytes``), so an object unless the database was edited behind its back."""
    record = canonical.loads(text)
    if not isinstance(record, dict):
        raise DatabaseError("the database holds a decision record that is not a JSON object")
    return record


def input_documents(db: sqlite_utils.Database, record: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, digest in record["inputs"].items():
        row = db.execute("SELECT document FROM decision_inputs WHERE digest = ?", [digest]).fetchone()
        if row is None:
            raise MissingInput(f"input {name} ({digest}) of a decision record is missing")
        out[name] = canonical.loads(row[0])
    return out
