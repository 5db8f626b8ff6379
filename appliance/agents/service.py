"""Registering, listing and revoking agents: the rules, once, for the HTTP face and the CLI.

``register`` is what ``POST /agent/v1/register`` calls with the raw body: it parses the
message (kit.agentproto), checks the CSR, consumes the token and signs the client
certificate in one transaction; any refusal changes nothing but the audit log
(``agent.register-refused``: the address, the name if it was readable, the kind and why).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import sqlite_utils
from cryptography.hazmat.primitives import hashes, serialization

from appliance import audit, users
from appliance.agents import ca, timing, tokens
from appliance.errors import AgentDown, RateLimited, UnknownAgent
from appliance.home import Home
from appliance.promotions.errors import NoReason
from appliance.store.db import transaction
from kit.agentproto import PROTOCOL, AgentExists, RegisterAnswer, RegisterRequest, TokenRefused
from kit.agentproto.errors import CertificateRefused
from kit.agentproto.messages import RenewAnswer, RenewRequest
from kit.errors import StellaError, cut
from kit.timeutil import format_time, now, parse_time

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
        """``revoked``; ``ready`` when heard from within the grace (timing.grace); ``down`` when not;
        ``new`` when never."""
        if self.revoked_at:
            return "revoked"
        if self.last_seen is None:
            return "new"
        return "ready" if moment - parse_time(self.last_seen) <= timing.grace() else "down"

    def to_dict(self, moment: dt.datetime) -> dict[str, Any]:
        return {"name": self.name, "labels": self.labels, "capabilities": self.capabilities,
                "state": self.state(moment), "registeredAt": self.registered_at, "address": self.address,
                "certificate": {"serial": self.cert_serial, "sha256": self.cert_sha256,
                                "expires": self.cert_expires},
                "lastHeartbeat": self.last_seen, "revoked": self.revoked_at, "revokedBy": self.revoked_by,
                "revokeReason": self.revoke_reason}


Agent = AgentInfo      # what deploy code receives from ready_agents / require_ready

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
        limit_refusals(db, address, now())
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


REFUSAL_WINDOW = dt.timedelta(minutes=15)
REFUSALS_PER_ADDRESS = 20     # registrations refused for their token from one address within the window


def limit_refusals(db: sqlite_utils.Database, address: str, when: dt.datetime) -> None:
    """Raise RateLimited when *address* had too many registrations refused for their token
    within the window (someone guessing tokens); every refusal is an audit event
    (``agent.register-refused``), which is what is counted — the limit's own refusals too,
    so a caller that keeps trying stays locked out."""
    since = format_time(when - REFUSAL_WINDOW)
    count = db.execute("SELECT count(*) FROM audit_events WHERE action = 'agent.register-refused' AND time > ? "
                       "AND json_extract(details, '$.address') = ? AND json_extract(details, '$.kind') IN "
                       "('token-refused', 'rate-limited')", [since, address]).fetchone()[0]
    if count >= REFUSALS_PER_ADDRESS:
        raise RateLimited(f"too many refused registrations from {address}; try again in "
                          f"{REFUSAL_WINDOW.seconds // 60} minutes")


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


def authenticate(db: sqlite_utils.Database, der: bytes | None, address: str, path: str) -> AgentInfo:
    """The agent a client certificate (its DER, from the TLS handshake) belongs to.

    The handshake already checked that it chains to the agent CA; here it must be the
    certificate recorded for an agent (a renewed one replaces the old) that is not revoked.

    Raises:
        CertificateRefused: no certificate, an unknown one, or a revoked agent's (audited ``agent.call-refused``).
    """
    if not der:
        refusal = CertificateRefused(f"{path} needs the agent's client certificate (the agent listener, mutual TLS)")
        refuse_call(db, address, None, path, refusal)
        raise refusal
    digest = hashlib.sha256(der).hexdigest()
    row = db.execute(f"SELECT {COLUMNS} FROM agents WHERE cert_sha256 = ?", [digest]).fetchone()
    if row is None:
        refusal = CertificateRefused(f"the client certificate sha256:{digest[:16]}… is no agent's current certificate "
                                     "(replaced by a renewal, or never issued here)")
        refuse_call(db, address, None, path, refusal)
        raise refusal
    info = _info(row)
    if info.revoked_at:
        refusal = revoked(info)
        refuse_call(db, address, info.name, path, refusal)
        raise refusal
    return info


def revoked(info: AgentInfo) -> CertificateRefused:
    return CertificateRefused(f"agent {info.name} was revoked at {info.revoked_at} by {info.revoked_by}: "
                              f"{info.revoke_reason}")


def refuse_call(db: sqlite_utils.Database, address: str, name: str | None, path: str, error: StellaError) -> None:
    """The audit event of a refused call on the agent listener (its own transaction)."""
    with transaction(db):
        audit.append(db, f"agent:{name}" if name else "agent:?", "agent.call-refused",
                     {"address": address, "agent": name, "path": path, "kind": error.kind,
                      "reason": cut(error.detail(), 300)})


def heartbeat(db: sqlite_utils.Database, name: str, moment: dt.datetime) -> None:
    """Record that *name* was heard from at *moment*."""
    with transaction(db):
        db.execute("UPDATE agents SET last_seen = ? WHERE name = ? AND revoked_at IS NULL", [format_time(moment), name])


def ready_agents(db: sqlite_utils.Database, labels: dict[str, str]) -> list[Agent]:
    """The ready agents (a heartbeat within the grace, not revoked) carrying every one of *labels*, by name."""
    moment = now()
    out = []
    for row in db.execute(f"SELECT {COLUMNS} FROM agents WHERE revoked_at IS NULL ORDER BY name"):
        info = _info(row)
        if info.state(moment) == "ready" and all(info.labels.get(k) == v for k, v in labels.items()):
            out.append(info)
    return out


def require_ready(db: sqlite_utils.Database, name: str) -> Agent:
    """The agent *name* when it is ready.

    Raises:
        UnknownAgent: no agent has that name.
        AgentDown: it is down, revoked or has never sent a heartbeat (the message says since when).
    """
    info = get(db, name)
    state = info.state(now())
    if state == "ready":
        return info
    if state == "revoked":
        raise AgentDown(f"agent {name} is revoked (at {info.revoked_at}: {info.revoke_reason})")
    if state == "new":
        raise AgentDown(f"agent {name} is down: no heartbeat since it registered at {info.registered_at}")
    raise AgentDown(f"agent {name} is down: no heartbeat since {info.last_seen} "
                    f"(grace {int(timing.grace().total_seconds())}s)")


def renew(db: sqlite_utils.Database, home: Home, agent: AgentInfo, body: bytes) -> RenewAnswer:
    """A new client certificate for *agent* (authenticated by its current one) from a CSR for a
    new key; the old certificate is refused from then on. Audited (``agent.renew``).

    Raises:
        BadMessage, UnknownVersion: the body is not a renew request.
        BadCSR: the CSR is not for ``CN=<the agent's name>`` with an EC P-256 key.
        CertificateRefused: the request names another agent.
    """
    request = RenewRequest.from_json(body)
    if request.name != agent.name:
        raise CertificateRefused(f"the certificate is {agent.name}'s; it cannot renew {request.name}'s")
    csr = ca.check_csr(request.csr, agent.name)
    moment = now()
    authority = ca.ensure(home, moment)
    cert = ca.issue(authority, csr, agent.name, moment)
    sha = cert.fingerprint(hashes.SHA256()).hex()
    with transaction(db):
        db.execute("UPDATE agents SET cert_serial = ?, cert_sha256 = ?, cert_expires = ? WHERE name = ?",
                   [format(cert.serial_number, "x"), sha, format_time(cert.not_valid_after_utc), agent.name])
        audit.append(db, f"agent:{agent.name}", "agent.renew",
                     {"name": agent.name, "previousSha256": agent.cert_sha256, "certSha256": sha,
                      "expires": format_time(cert.not_valid_after_utc)}, format_time(moment))
    return RenewAnswer(PROTOCOL, agent.name, cert.public_bytes(serialization.Encoding.PEM).decode())
