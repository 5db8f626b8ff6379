"""Registering, listing and revoking agents: the rules, once, for the HTTP face and the CLI.

``register`` is what ``POST /agent/v1/register`` calls with the raw body: it parses the
message (kit.agentproto), checks the CSR, consumes the token and signs the client
certificate in one transaction; any refusal changes nothing but the audit log
(``agent.register-refused``: the address, the name if it was readable, the kind and why).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import sqlite_utils
from cryptography.hazmat.primitives import hashes, serialization

from appliance import audit, users
from appliance.agents import ca, tokens
from appliance.errors import UnknownAgent
from appliance.home import Home
from appliance.promotions.errors import NoReason
from appliance.store.db import transaction
from kit.agentproto import PROTOCOL, AgentExists, RegisterAnswer, RegisterRequest, TokenRefused
from kit.errors import StellaError, cut
from kit.timeutil import format_time, now, parse_time

HEARTBEAT_GRACE = dt.timedelta(seconds=30)     # seen within this: ready (heartbeats are not served yet)
MAX_REASON = 500


@dataclass(frozen=True)
class AgentInfo:
    name: str
    labels: dict[str, str]
    capabilities: list[str]
    registered_at: str
    address: str
    cert_serial: str
    cert_sha256: str
    cert_expires: str
    last_seen: str | None
    revoked_at: str | None
    revoked_by: str | None
    revoke_reason: str | None

    def state(self, moment: dt.datetime) -> str:
        """``revoked``; ``ready`` when heard from within the grace; ``down`` when not; ``new`` when never."""
        if self.revoked_at:
            return "revoked"
        if self.last_seen is None:
            return "new"
        return "ready" if moment - parse_time(self.last_seen) <= HEARTBEAT_GRACE else "down"

    def to_dict(self, moment: dt.datetime) -> dict[str, Any]:
        return {"name": self.name, "labels": self.labels, "capabilities": self.capabilities,
                "state": self.state(moment), "registeredAt": self.registered_at, "address": self.address,
                "certificate": {"serial": self.cert_serial, "sha256": self.cert_sha256,
                                "expires": self.cert_expires},
                "lastHeartbeat": self.last_seen, "revoked": self.revoked_at, "revokedBy": self.revoked_by,
                "revokeReason": self.revoke_reason}


COLUMNS = ("name, labels, capabilities, registered_at, address, cert_serial, cert_sha256, cert_expires, "
           "last_seen, revoked_at, revoked_by, revoke_reason")


def _info(row: tuple[Any, ...]) -> AgentInfo:
    return AgentInfo(row[0], json.loads(row[1]), json.loads(row[2]), *row[3:])


def register(db: sqlite_utils.Database, home: Home, body: bytes, address: str) -> RegisterAnswer:
    """Register the agent a request body asks for (see the module docstring).

    Raises:
        BadMessage, UnknownVersion: the body is not a registration request.
        BadCSR: the CSR is not one well-signed EC P-256 request for ``CN=<name>``.
        TokenRefused: the token is unknown, wrong, used or expired.
        AgentExists: the name is taken (revoked names too).
    """
    name: str | None = None
    try:
        request = RegisterRequest.from_json(body)
        name = request.name
        csr = ca.check_csr(request.csr, request.name)
        moment = now()
        with transaction(db):
            if db.execute("SELECT 1 FROM agents WHERE name = ?", [request.name]).fetchone():
                raise AgentExists(f"an agent named {request.name} is already registered (revoked names stay taken)")
            used = tokens.consume(db, request.token, request.name, moment)
            if isinstance(used, str):
                raise TokenRefused("the registration token is unknown, already used or expired", entry=used)
            token_id, labels = used
            authority = ca.ensure(home, moment)     # made by the first token already; an unknown caller never makes it
            cert = ca.issue(authority, csr, request.name, moment)
            info = AgentInfo(request.name, labels, sorted(request.capabilities), format_time(moment), address,
                             format(cert.serial_number, "x"), cert.fingerprint(hashes.SHA256()).hex(),
                             format_time(cert.not_valid_after_utc), None, None, None, None)
            db.execute(f"INSERT INTO agents ({COLUMNS}, token_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       [info.name, tokens.canonical_json(info.labels), tokens.canonical_json(info.capabilities),
                        info.registered_at, info.address, info.cert_serial, info.cert_sha256, info.cert_expires,
                        None, None, None, None, token_id])
            audit.append(db, f"agent:{info.name}", "agent.register",
                         {"name": info.name, "token": token_id, "labels": info.labels, "address": address,
                          "capabilities": info.capabilities, "certSha256": info.cert_sha256}, info.registered_at)
    except StellaError as exc:
        _refused(db, address, name, exc)
        raise
    return RegisterAnswer(PROTOCOL, info.name, cert.public_bytes(serialization.Encoding.PEM).decode(),
                          authority.pem, authority.fingerprint)


def _refused(db: sqlite_utils.Database, address: str, name: str | None, error: StellaError) -> None:
    """The audit event of a refused registration (its own transaction: the refusal rolled back the rest)."""
    reason = error.detail() if not isinstance(error, TokenRefused) else f"{error.message}: {error.entry}"
    with transaction(db):
        audit.append(db, f"agent:{name}" if name else "agent:?", "agent.register-refused",
                     {"address": address, "name": name, "kind": error.kind, "reason": cut(reason, 300)})


def listing(db: sqlite_utils.Database, as_user: str | None) -> list[AgentInfo]:
    """Every agent, by name (admin or auditor)."""
    actor = users.acting(db, as_user)
    if not (actor.has("admin") or actor.has("auditor")):
        users.acting(db, as_user, "admin")        # raises MissingRole naming admin
    return [_info(r) for r in db.execute(f"SELECT {COLUMNS} FROM agents ORDER BY name")]


def get(db: sqlite_utils.Database, name: str) -> AgentInfo:
    row = db.execute(f"SELECT {COLUMNS} FROM agents WHERE name = ?", [name]).fetchone()
    if row is None:
        raise UnknownAgent(f"unknown agent {cut(name, 80)!r} (stella agent list)")
    return _info(row)


def revoke(db: sqlite_utils.Database, name: str, reason: str, as_user: str | None) -> AgentInfo:
    """Revoke the agent *name* (admin only): its certificate is refused from its next call on.
    Revoking a revoked agent changes nothing. Audited (``agent.revoke``).

    Raises:
        NoReason: *reason* is empty or over 500 characters.
        UnknownAgent: no agent has that name.
    """
    actor = users.acting(db, as_user, "admin")
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON or "\n" in reason:
        raise NoReason(f"revoking an agent needs a --reason of one line, 1 to {MAX_REASON} characters")
    info = get(db, name)
    if info.revoked_at:
        return info
    when = format_time(now())
    with transaction(db):
        db.execute("UPDATE agents SET revoked_at = ?, revoked_by = ?, revoke_reason = ? WHERE name = ?",
                   [when, actor.name, reason, name])
        audit.append(db, actor.name, "agent.revoke", {"name": name, "reason": reason,
                                                      "certSha256": info.cert_sha256}, when)
    return get(db, name)
