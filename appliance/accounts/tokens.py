"""API tokens: random, shown once, stored hashed, expiring, revocable, bound to a user (and
so to that user's roles). A token reads ``stella_<id>_<secret>``; the table keeps the id
and the secret's sha256 (the secret has 256 random bits: a slow hash adds nothing)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from appliance import audit, users
from appliance.errors import UnknownToken
from appliance.store.db import transaction
from kit.timeutil import format_time, now, parse_time

PREFIX = "stella_"
TOKEN = re.compile(r"^stella_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
DEFAULT_EXPIRES = dt.timedelta(days=90)
TOUCH_EVERY = dt.timedelta(seconds=60)


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed (never its secret)."""

    id: str
    user: str
    created: str
    created_by: str
    expires: str | None
    revoked: str | None
    last_used: str | None

    def state(self, moment: dt.datetime) -> str:
        if self.revoked:
            return "revoked"
        if self.expires and moment >= parse_time(self.expires):
            return "expired"
        return "active"

    def to_dict(self, moment: dt.datetime) -> dict[str, Any]:
        return {"id": self.id, "user": self.user, "created": self.created, "createdBy": self.created_by,
                "expires": self.expires, "revoked": self.revoked, "lastUsed": self.last_used,
                "state": self.state(moment)}


@dataclass(frozen=True)
class NewToken:
    info: TokenInfo
    token: str          # shown once


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(db: sqlite_utils.Database, user: str, expires: dt.timedelta | None, as_user: str | None) -> NewToken:
    """A new token for *user* (admin only); *expires* None: never. Audited (``token.create``)."""
    actor = users.acting(db, as_user, "admin")
    target = users.get(db, user)
    ident, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    moment = now()
    info = TokenInfo(ident, target.name, format_time(moment), actor.name,
                     format_time(moment + expires) if expires is not None else None, None, None)
    with transaction(db):
        db.execute("INSERT INTO api_tokens (id, user, hash, created, created_by, expires) VALUES (?, ?, ?, ?, ?, ?)",
                   [info.id, info.user, _digest(secret), info.created, info.created_by, info.expires])
        audit.append(db, actor.name, "token.create", {"id": info.id, "user": info.user, "expires": info.expires},
                     info.created)
    return NewToken(info, f"{PREFIX}{ident}_{secret}")


def _info(row: tuple[Any, ...]) -> TokenInfo:
    return TokenInfo(*row)


COLUMNS = "id, user, created, created_by, expires, revoked, last_used"


def listing(db: sqlite_utils.Database, as_user: str | None) -> list[TokenInfo]:
    """Every token, oldest first (admin only)."""
    users.acting(db, as_user, "admin")
    return [_info(r) for r in db.execute(f"SELECT {COLUMNS} FROM api_tokens ORDER BY created, id")]


def revoke(db: sqlite_utils.Database, ident: str, as_user: str | None) -> TokenInfo:
    """Revoke the token *ident* (admin only; revoking a revoked token changes nothing).
    Audited (``token.revoke``)."""
    actor = users.acting(db, as_user, "admin")
    row = db.execute(f"SELECT {COLUMNS} FROM api_tokens WHERE id = ?", [ident]).fetchone()
    if row is None:
        raise UnknownToken(f"unknown token {ident!r} (stella token list)")
    info = _info(row)
    if info.revoked:
        return info
    with transaction(db):
        when = format_time(now())
        db.execute("UPDATE api_tokens SET revoked = ? WHERE id = ?", [when, ident])
        audit.append(db, actor.name, "token.revoke", {"id": ident, "user": info.user}, when)
    return TokenInfo(info.id, info.user, info.created, info.created_by, info.expires, when, info.last_used)


def resolve(db: sqlite_utils.Database, token: str, address: str) -> tuple[users.User, str] | None:
    """The user a presented token stands for and the token's id, or None. A well-formed token
    of a known id that is wrong, revoked or expired is audited (``token.refused``)."""
    match = TOKEN.match(token)
    if match is None:
        return None
    ident, secret = match.groups()
    row = db.execute("SELECT user, hash, expires, revoked, last_used FROM api_tokens WHERE id = ?",
                     [ident]).fetchone()
    if row is None:
        return None
    name, digest, expires, revoked, last_used = row
    moment = now()
    reason = ("wrong secret" if not hmac.compare_digest(digest, _digest(secret)) else
              "revoked" if revoked else
              "expired" if expires and moment >= parse_time(expires) else None)
    if reason is not None:
        with transaction(db):
            audit.append(db, name, "token.refused", {"id": ident, "address": address, "reason": reason},
                         format_time(moment))
        return None
    if last_used is None or moment - parse_time(last_used) >= TOUCH_EVERY:
        with transaction(db):
            db.execute("UPDATE api_tokens SET last_used = ? WHERE id = ?", [format_time(moment), ident])
    return users.get(db, name), ident
