"""Console passwords, hashed with argon2id (argon2-cffi's ``PasswordHasher`` defaults)."""

from __future__ import annotations

import sqlite_utils
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from appliance import audit, users
from appliance.accounts import sessions
from appliance.errors import BadPassword
from appliance.promotions.errors import MissingRole
from appliance.store.db import transaction
from kit.timeutil import format_time, now

MIN_LENGTH = 8
MAX_LENGTH = 1024

_hasher = PasswordHasher()
# verified against when the user has no password, so that an unknown name costs as much as a known one
_DUMMY = _hasher.hash("not a password of anyone")


def validate(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise BadPassword(f"a console password has at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise BadPassword(f"a console password has at most {MAX_LENGTH} characters")


def set_password(db: sqlite_utils.Database, name: str, password: str, as_user: str | None) -> int:
    """Set *name*'s console password (an admin, or the user themself); revokes the user's
    sessions and returns how many were open. Audited (``user.passwd``).

    Raises:
        MissingRole: the acting user is neither an admin nor *name*.
        UnknownUser: either user is unknown.
        BadPassword: too short or too long.
    """
    actor = users.acting(db, as_user)
    target = users.get(db, name)
    if actor.name != target.name and not actor.has("admin"):
        raise MissingRole(f"{actor.name} lacks the admin role (only an admin sets another user's password)")
    validate(password)
    hashed = _hasher.hash(password)
    with transaction(db):
        when = format_time(now())
        db.execute("INSERT INTO passwords (name, hash, changed, changed_by) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT(name) DO UPDATE SET hash = excluded.hash, changed = excluded.changed, "
                   "changed_by = excluded.changed_by", [target.name, hashed, when, actor.name])
        revoked = sessions.revoke_all(db, target.name, when)
        audit.append(db, actor.name, "user.passwd", {"user": target.name, "sessionsRevoked": revoked}, when)
    return revoked


def check(db: sqlite_utils.Database, name: str, password: str) -> bool:
    """Whether *password* is *name*'s console password (False for an unknown user or none set)."""
    row = db.execute("SELECT hash FROM passwords WHERE name = ?", [name]).fetchone()
    stored = row[0] if row else _DUMMY
    try:
        ok = _hasher.verify(stored, password) and row is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    if ok and _hasher.check_needs_rehash(stored):
        with transaction(db):
            db.execute("UPDATE passwords SET hash = ? WHERE name = ? AND hash = ?",
                       [_hasher.hash(password), name, stored])
    return ok
