"""The append-only, hash-chained audit log (table ``audit_events``).

Each event's ``hash`` is the sha256 of the canonical JSON of
``{seq, time, actor, action, details, prev_hash}``; ``prev_hash`` is the hash of the
event before it (64 zeros for the first). Changing, deleting, inserting or moving any
row breaks the chain at that row, and :func:`verify` names the row and what happened.
Appending happens inside the caller's transaction so an event exists exactly when the
change it records does.

The chain alone cannot show that its newest rows (or all of them) were deleted, so its
head is anchored outside the database: ``audit.head`` in the home, rewritten after each
commit that appended events, and the ``previousAuditEvent`` of every signed import record.
:func:`verify` requires the database to still hold each anchored event, with its hash.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from appliance.store.db import AFTER_COMMIT, file_of
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
    kind: str             # edited | deleted | reordered | inserted | truncated | rewritten
    message: str


def event_hash(seq: int, time: str, actor: str, action: str, details: str, prev_hash: str) -> str:
    body = {"seq": seq, "time": time, "actor": actor, "action": action,
            "details": canonical.loads(details), "prev_hash": prev_hash}
    return hashlib.sha256(canonical.dumps(body)).hexdigest()


def head(db: sqlite_utils.Database) -> tuple[int, str]:
    """(seq, hash) of the last event, (0, GENESIS) when the log is empty."""
    row = db.execute("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").fetchone()
    return (row[0], row[1]) if row else (0, GENESIS)


HEAD_FILE = "audit.head"
_APPENDED: weakref.WeakSet[sqlite_utils.Database] = weakref.WeakSet()


def _anchor_head(db: sqlite_utils.Database) -> None:
    """After a commit that appended events: write the chain's head to ``audit.head`` (atomically)."""
    if db not in _APPENDED:
        return
    _APPENDED.discard(db)
    seq, last = head(db)
    path = file_of(db).with_name(HEAD_FILE)
    tmp = path.with_name(f".{HEAD_FILE}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(canonical.dumps({"seq": seq, "hash": last}))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError:            # the change is committed; the anchor lags (still a valid lower bound)
        with contextlib.suppress(OSError):
            tmp.unlink()


AFTER_COMMIT.append(_anchor_head)


def append(db: sqlite_utils.Database, actor: str, action: str, details: dict[str, Any],
           time: str | None = None) -> Event:
    """Append one event; call inside the transaction that makes the change."""
    _APPENDED.add(db)
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


def anchors(home: Path) -> list[tuple[int, str, str]]:
    """The events recorded outside the database: (seq, hash, where) from ``audit.head`` and
    from each signed import record's ``previousAuditEvent``. Unreadable anchors are skipped
    (the import records have their own verifier: ``stella-verify import-record``)."""
    found: list[tuple[int, str, str]] = []
    try:
        doc = canonical.loads((home / HEAD_FILE).read_bytes())
        found.append((int(doc["seq"]), str(doc["hash"]), HEAD_FILE))
    except (OSError, canonical.CanonicalJSONError, KeyError, TypeError, ValueError):
        pass
    try:
        records = sorted((home / "records").glob("*.dsse.json"))
    except OSError:
        records = []
    for path in records:
        try:
            envelope = canonical.loads(path.read_bytes())
            event = canonical.loads(base64.b64decode(envelope["payload"], validate=True))["previousAuditEvent"]
            found.append((int(event["seq"]), str(event["hash"]), f"records/{path.name}"))
        except (OSError, canonical.CanonicalJSONError, KeyError, TypeError, ValueError, binascii.Error):
            continue
    return found


def _check_anchors(db: sqlite_utils.Database, rows: list[Event]) -> list[Problem]:
    by_seq = {ev.seq: ev for ev in rows}
    last = rows[-1].seq if rows else 0
    problems = []
    for seq, digest, where in sorted(anchors(file_of(db).parent), reverse=True):
        if seq <= 0:
            continue
        ev = by_seq.get(seq)
        if ev is None:
            problems.append(Problem(seq, "truncated", f"{where} anchors event {seq}, but the log "
                                                      f"{'is empty' if not rows else f'ends at event {last}'}"
                                                      f"{'' if seq > last else f' without event {seq}'}: "
                                                      "events were deleted"))
        elif ev.hash != digest:
            problems.append(Problem(seq, "rewritten", f"event {seq} is not the event {where} anchors "
                                                      f"(hash {digest[:16]}…): the log was rewritten"))
        if problems:
            break                      # the newest broken anchor says it; older ones repeat it
    return problems


def verify(db: sqlite_utils.Database) -> list[Problem]:
    """Walk the chain and check its anchors; one Problem per broken row, naming it (empty list: intact)."""
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
    # The anchors see what the chain cannot (its tail or all of it deleted, the whole log
    # rewritten with fresh hashes); a break the walk already named is not repeated.
    last = rows[-1].seq if rows else 0
    extra = [p for p in _check_anchors(db, rows) if not problems or p.seq > last]
    return problems + extra
