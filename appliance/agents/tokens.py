"""One-time registration tokens: random, printed once, stored hashed with an expiry and the labels
the agent that uses it gets (docs/agent-protocol.md "Registration").

A token reads ``sta_<id>_<secret>`` (12 hex digits, 43 base64url characters: 256 random
bits, so a plain SHA-256 suffices). It is consumed by the registration that uses it, in the
transaction that records the agent: a second use, an expired or an unknown token is refused
alike (``token-refused``) and the audit log says which.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from appliance import audit, users
from appliance.agents import ca
from appliance.errors import BadName
from appliance.home import Home
from appliance.store.db import transaction
from kit.agentproto.messages import LABEL_KEY, LABEL_VALUE
from kit.errors import BadDuration
from kit.timeutil import format_time, now, parse_time

PREFIX = "sta_"
TOKEN = re.compile(r"^sta_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
DEFAULT_TTL = dt.timedelta(minutes=15)
MIN_TTL = dt.timedelta(minutes=1)
MAX_TTL = dt.timedelta(hours=24)
MAX_LABELS = 32


@dataclass(frozen=True)
class TokenInfo:
    """A registration token as stored (never its secret)."""

    id: str
    labels: dict[str, str]
    created: str
    created_by: str
    expires: str
    used_at: str | None
    used_by: str | None

    def state(self, moment: dt.datetime) -> str:
        if self.used_at:
            return "used"
        return "expired" if moment >= parse_time(self.expires) else "unused"

    def to_dict(self, moment: dt.datetime) -> dict[str, Any]:
        return {"id": self.id, "labels": self.labels, "created": self.created, "createdBy": self.created_by,
                "expires": self.expires, "usedAt": self.used_at, "usedBy": self.used_by, "state": self.state(moment)}


@dataclass(frozen=True)
class NewToken:
    info: TokenInfo
    token: str              # shown once
    ca_fingerprint: str     # what the agent pins (--ca-fingerprint)


def parse_labels(text: str) -> dict[str, str]:
    """``role=web,site=berlin`` → a dict (empty text: no labels).

    Raises:
        BadName: an item is not KEY=VALUE, a key or value has characters it may not have, a key repeats.
    """
    labels: dict[str, str] = {}
    for item in (p.strip() for p in text.split(",")) if text.strip() else ():
        key, sep, value = item.partition("=")
        if not sep:
            raise BadName(f"--labels {item[:60]!r}: not KEY=VALUE")
        if not re.fullmatch(LABEL_KEY, key):
            raise BadName(f"--labels: key {key[:60]!r} does not match {LABEL_KEY}")
        if not re.fullmatch(LABEL_VALUE, value):
            raise BadName(f"--labels: value {value[:60]!r} of {key} does not match {LABEL_VALUE}")
        if key in labels:
            raise BadName(f"--labels: {key} is given twice")
        labels[key] = value
    if len(labels) > MAX_LABELS:
        raise BadName(f"--labels: {len(labels)} labels, at most {MAX_LABELS}")
    return labels


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(db: sqlite_utils.Database, home: Home, labels: dict[str, str], ttl: dt.timedelta,
           as_user: str | None) -> NewToken:
    """A new token (admin only) valid for *ttl*; makes the agent CA on first use. Audited (``agent.token-create``).

    Raises:
        BadDuration: *ttl* is under a minute or over a day.
    """
    actor = users.acting(db, as_user, "admin")
    if not MIN_TTL <= ttl <= MAX_TTL:
        raise BadDuration(f"--ttl {int(ttl.total_seconds())}s: a registration token lives 1m to 24h")
    moment = now()
    authority = ca.ensure(home, moment)
    ident, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    info = TokenInfo(ident, dict(sorted(labels.items())), format_time(moment), actor.name,
                     format_time(moment + ttl), None, None)
    with transaction(db):
        db.execute("INSERT INTO agent_tokens (id, hash, labels, created, created_by, expires) "
                   "VALUES (?, ?, ?, ?, ?, ?)",
                   [info.id, digest(secret), canonical_json(info.labels), info.created, info.created_by, info.expires])
        audit.append(db, actor.name, "agent.token-create",
                     {"id": info.id, "labels": info.labels, "expires": info.expires}, info.created)
    return NewToken(info, f"{PREFIX}{ident}_{secret}", authority.fingerprint)


def canonical_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def listing(db: sqlite_utils.Database, as_user: str | None) -> list[TokenInfo]:
    """Every registration token, oldest first (admin only)."""
    users.acting(db, as_user, "admin")
    return [TokenInfo(r[0], json.loads(r[1]), *r[2:]) for r in db.execute(
        "SELECT id, labels, created, created_by, expires, used_at, used_by FROM agent_tokens ORDER BY created, id")]


def consume(db: sqlite_utils.Database, token: str, agent: str, moment: dt.datetime) -> tuple[str, dict[str, str]] | str:
    """Use *token* for *agent* inside the caller's transaction: ``(id, labels)``, or why it is refused.

    The UPDATE only matches an unused token, so of two registrations racing for one token
    exactly one gets it (the caller's ``BEGIN IMMEDIATE`` serialises them; the condition
    holds even without it).
    """
    match = TOKEN.match(token)
    if match is None:
        return "not a registration token"
    ident, secret = match.groups()
    row = db.execute("SELECT hash, labels, expires, used_at FROM agent_tokens WHERE id = ?", [ident]).fetchone()
    if row is None:
        return f"unknown token {ident}"
    stored, labels, expires, used_at = row
    if not hmac.compare_digest(stored, digest(secret)):
        return f"wrong secret for token {ident}"
    if used_at is not None:
        return f"token {ident} was already used"
    if moment >= parse_time(expires):
        return f"token {ident} expired at {expires}"
    cursor = db.execute("UPDATE agent_tokens SET used_at = ?, used_by = ? WHERE id = ? AND used_at IS NULL",
                        [format_time(moment), agent, ident])
    if cursor.rowcount != 1:
        return f"token {ident} was already used"
    return ident, json.loads(labels)
