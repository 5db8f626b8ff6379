"""The append-only, hash-chained audit log (table ``audit_events``).

Each event's ``hash`` is the sha256 of the canonical JSON of
``{seq, time, actor, action, details, prev_hash}``; ``prev_hash`` is the hash of the
event before it (64 zeros for the first). Changing, deleting, inserting or moving any
row breaks the chain at that row, and :func:`verify` names the row and what happened.
Appending happens inside the caller's transaction so an event exists exactly when the
change it records does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from kit import canonical
from kit.timeutil import format_time, now

GENESIS = "0" * 64


@dataclass(frozen=True)
class Event:
    seq: int
    time: str
    actor: str
    action: str
    details: str          # canonical JSON text
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "time": self.time, "actor": self.actor, "action": self.action,
                "details": canonical.loads(self.details), "prevHash": self.prev_hash, "hash": self.hash}


@dataclass(frozen=True)
class Problem:
    seq: int
    kind: str             # edited | deleted | reordered | inserted
    message: str


def event_hash(seq: int, time: str, actor: str, action: str, details: str, prev_hash: str) -> str:
    body = {"seq": seq, "time": time, "actor": actor, "action": action,
            "details": canonical.loads(details), "prev_hash": prev_hash}
    return hashlib.sha256(canonical.dumps(body)).hexdigest()


def head(db: sqlite_utils.Database) -> tuple[int, str]:
    """(seq, hash) of the last event, (0, GENESIS) when the log is empty."""
    row = db.execute("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").fetchone()
    return (row[0], row[1]) if row else (0, GENESIS)


def append(db: sqlite_utils.Database, actor: str, action: str, details: dict[str, Any],
           time: str | None = None) -> Event:
    """Append one event; call inside the transaction that makes the change."""
    seq, prev = head(db)
    when = time or format_time(now())
    text = canonical.dumps(details).decode("utf-8")
    event = Event(seq + 1, when, actor, action, text, prev,
                  event_hash(seq + 1, when, actor, action, text, prev))
    db.execute("INSERT INTO audit_events (seq, time, actor, action, details, prev_hash, hash) "
               "VALUES (?, ?, ?, ?, ?, ?, ?)", [event.seq, event.time, event.actor, event.action,
                                                event.details, event.prev_hash, event.hash])
    return event


def events(db: sqlite_utils.Database, limit: int | None = None) -> list[Event]:
    sql = "SELECT seq, time, actor, action, details, prev_hash, hash FROM audit_events ORDER BY seq"
    if limit is not None:
        sql = f"SELECT * FROM ({sql} DESC LIMIT {int(limit)}) ORDER BY seq"
    return [Event(*row) for row in db.execute(sql)]


def page(db: sqlite_utils.Database, *, after: int | None, limit: int, newest_first: bool = True) -> list[Event]:
    """Up to *limit* events after sequence number *after* (None: from the newest or the oldest)."""
    where = "" if after is None else ("WHERE seq < ?" if newest_first else "WHERE seq > ?")
    sql = (f"SELECT seq, time, actor, action, details, prev_hash, hash FROM audit_events {where} "
           f"ORDER BY seq {'DESC' if newest_first else 'ASC'} LIMIT ?")
    return [Event(*row) for row in db.execute(sql, [*([] if after is None else [after]), limit])]


def verification(db: sqlite_utils.Database) -> dict[str, Any]:
    """``stella audit verify --json``: ok, the number of events, the head hash and every problem."""
    problems = verify(db)
    count, last = head(db)
    return {"ok": not problems, "events": count, "head": last,
            "problems": [{"seq": p.seq, "kind": p.kind, "message": p.message} for p in problems]}


def _recompute(ev: Event, seq: int | None = None) -> str:
    try:
        return event_hash(ev.seq if seq is None else seq, ev.time, ev.actor, ev.action, ev.details,
                          ev.prev_hash)
    except canonical.CanonicalJSONError:
        return ""


def _moved_from(ev: Event, count: int) -> int | None:
    """The seq under which *ev*'s content hashes correctly, if another one (a moved row)."""
    for seq in range(1, count + 2):
        if seq != ev.seq and _recompute(ev, seq) == ev.hash:
            return seq
    return None


def verify(db: sqlite_utils.Database) -> list[Problem]:
    """Walk the chain; one Problem per broken row, naming it (empty list: intact)."""
    rows = events(db)
    problems: list[Problem] = []
    hashes = {ev.hash: ev.seq for ev in rows}
    expected_seq, prev, prev_ok = 1, GENESIS, True
    for ev in rows:
        before = len(problems)
        if ev.seq != expected_seq:
            gone = f"{expected_seq}" if ev.seq == expected_seq + 1 else f"{expected_seq}..{ev.seq - 1}"
            problems.append(Problem(ev.seq, "deleted", f"event {gone} is missing (deleted) before event {ev.seq}"))
        if _recompute(ev) != ev.hash:
            origin = _moved_from(ev, len(rows)) if len(problems) < 100 else None
            if origin is not None:
                problems.append(Problem(ev.seq, "reordered", f"event {ev.seq} holds the event recorded as "
                                                             f"{origin} (rows reordered)"))
            else:
                problems.append(Problem(ev.seq, "edited", f"event {ev.seq} ({ev.action}) was edited: its "
                                                          "content does not match its hash"))
        elif ev.prev_hash != prev and ev.seq == expected_seq and prev_ok:
            what = ("reordered" if ev.prev_hash in hashes else "deleted")
            problems.append(Problem(ev.seq, what, f"event {ev.seq} does not follow event {ev.seq - 1}: "
                                                  f"an event before it was {what}"))
        # a row already named (moved, edited) explains the break after it: report it once
        expected_seq, prev, prev_ok = ev.seq + 1, ev.hash, len(problems) == before
    return problems
