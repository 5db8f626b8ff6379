"""Server-side console sessions: the cookie holds a random opaque id, the table its sha256,
the user, a CSRF token, and the idle and absolute expiry."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

import sqlite_utils

from appliance import audit, users
from appliance.store.db import transaction
from kit.timeutil import format_time, now, parse_time

IDLE = dt.timedelta(minutes=30)        # a session unused this long is over
ABSOLUTE = dt.timedelta(hours=12)      # and none lives longer than this
TOUCH_EVERY = dt.timedelta(seconds=60)  # last_seen is written at most this often


@dataclass(frozen=True)
class Session:
    """An open session (``id`` is the cookie value: never stored, never logged)."""

    id: str
    user: users.User
    csrf_token: str
    expires: str


def hash_id(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8", "surrogatepass")).hexdigest()


def ref(session_id: str) -> str:
    """A short reference for the audit log (a prefix of the stored hash, not of the id)."""
    return hash_id(session_id)[:12]


def create(db: sqlite_utils.Database, user: users.User, address: str, when: dt.datetime) -> Session:
    """Insert a session for *user*; call inside the login's transaction."""
    session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires = format_time(when + ABSOLUTE)
    db.execute("INSERT INTO sessions (id_hash, user, csrf_token, address, created, last_seen, expires) "
               "VALUES (?, ?, ?, ?, ?, ?, ?)",
               [hash_id(session_id), user.name, csrf, address, format_time(when), format_time(when), expires])
    return Session(session_id, user, csrf, expires)


@dataclass(frozen=True)
class Stored:
    """A session's row as stored, before the clock is asked whether it is still open."""

    session: Session
    last_seen: dt.datetime

    def is_open(self, moment: dt.datetime) -> bool:
        return moment < parse_time(self.session.expires) and moment < self.last_seen + IDLE

    def due_touch(self, moment: dt.datetime) -> bool:
        return moment - self.last_seen >= TOUCH_EVERY


def find(db: sqlite_utils.Database, session_id: str) -> Stored | None:
    """The unrevoked session with that id as stored (whatever the clock says), or None."""
    if not session_id or len(session_id) > 256:
        return None
    row = db.execute("SELECT user, csrf_token, last_seen, expires FROM sessions "
                     "WHERE id_hash = ? AND revoked IS NULL", [hash_id(session_id)]).fetchone()
    if row is None:
        return None
    name, csrf, last_seen, expires = row
    return Stored(Session(session_id, users.get(db, name), csrf, expires), parse_time(last_seen))


def touch(db: sqlite_utils.Database, session_id: str, moment: dt.datetime) -> None:
    """Record that the session was used at *moment* (what its idle expiry counts from)."""
    with transaction(db):
        db.execute("UPDATE sessions SET last_seen = ? WHERE id_hash = ?", [format_time(moment), hash_id(session_id)])


def resolve(db: sqlite_utils.Database, session_id: str) -> Session | None:
    """The open session with that id, or None (unknown, revoked, idle too long, expired)."""
    stored = find(db, session_id)
    moment = now()
    if stored is None or not stored.is_open(moment):
        return None
    if stored.due_touch(moment):
        touch(db, session_id, moment)
    return stored.session


def logout(db: sqlite_utils.Database, session_id: str, address: str) -> bool:
    """Revoke the session (audited ``logout``); False when it was not open."""
    found = resolve(db, session_id)
    if found is None:
        return False
    with transaction(db):
        when = format_time(now())
        db.execute("UPDATE sessions SET revoked = ? WHERE id_hash = ? AND revoked IS NULL",
                   [when, hash_id(session_id)])
        audit.append(db, found.user.name, "logout", {"address": address, "session": ref(session_id)}, when)
    return True


def revoke_all(db: sqlite_utils.Database, name: str, when: str) -> int:
    """Revoke every open session of *name* (call inside a transaction); how many there were."""
    cursor = db.execute("UPDATE sessions SET revoked = ? WHERE user = ? AND revoked IS NULL", [when, name])
    return int(cursor.rowcount)
