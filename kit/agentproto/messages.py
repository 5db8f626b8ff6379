"""The messages of the agent protocol, version 1 (docs/agent-protocol.md): frozen dataclasses
that refuse anything malformed, on either side, before any of it is used.

Each class declares its JSON members once (``FIELDS``); ``from_dict`` refuses an unknown
member, a missing one, a wrong type, an over-long string and a value outside its pattern
(:class:`BadMessage`), and a message of another protocol version (:class:`UnknownVersion`).
Constructing one checks the same rules, so a side never sends what the other would refuse.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from kit.agentproto.errors import BadMessage
from kit.agentproto.fields import Field, dump, parse
from kit.errors import UnknownVersion

PROTOCOL = 1
MAX_BODY = 256 * 1024                   # bytes of one message's JSON
NAME = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"                     # an agent's name: one DNS label
TOKEN = r"^sta_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$"                    # a registration token
CAPABILITY = r"^[a-z][a-z0-9.-]{0,62}$"
LABEL_KEY = r"^[a-z][a-z0-9_.-]{0,62}$"
LABEL_VALUE = r"^[A-Za-z0-9_.-]{1,63}$"
TIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"
ID = r"^[A-Za-z0-9_-]{8,64}$"
PEM_MAX = 8192
TASK_TYPES = ("deploy", "rollback", "health", "inspect", "drift", "sticker-write", "sticker-read", "remove")
RESULTS = ("succeeded", "failed")


def _protocol() -> Field:
    return Field("protocol", "protocol", "integer", minimum=PROTOCOL, maximum=PROTOCOL)


M = TypeVar("M", bound="Message")


@dataclass(frozen=True)
class Message:
    """Base of the messages: ``FIELDS`` is the table of JSON members, ``WHERE`` names the message."""

    FIELDS: ClassVar[tuple[Field, ...]] = ()
    WHERE: ClassVar[str] = "message"

    def __post_init__(self) -> None:
        parse(self.FIELDS, dump(self.FIELDS, self), self.WHERE)

    @classmethod
    def from_dict(cls: type[M], data: object) -> M:
        """The message from its JSON object.

        Raises:
            UnknownVersion: ``protocol`` is an integer other than :data:`PROTOCOL`.
            BadMessage: anything else malformed (the member is named).
        """
        if isinstance(data, dict):
            version = data.get("protocol")
            if isinstance(version, int) and not isinstance(version, bool) and version != PROTOCOL:
                raise UnknownVersion(f"{cls.WHERE}: protocol {version}; this side speaks {PROTOCOL}")
        return cls(**parse(cls.FIELDS, data, cls.WHERE))

    @classmethod
    def from_json(cls: type[M], raw: bytes) -> M:
        """The message from the bytes of a request or answer body (at most :data:`MAX_BODY`).

        Raises:
            BadMessage: too large, not UTF-8 JSON, a repeated member, NaN or Infinity.
            UnknownVersion: see :meth:`from_dict`.
        """
        if len(raw) > MAX_BODY:
            raise BadMessage(f"{cls.WHERE}: {len(raw)} bytes, at most {MAX_BODY}")
        return cls.from_dict(loads(raw, cls.WHERE))

    def to_dict(self) -> dict[str, Any]:
        return dump(self.FIELDS, self)

    def to_json(self) -> bytes:
        """Canonical bytes: sorted keys, no spaces, UTF-8."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise BadMessage(f"repeated member {key[:60]!r}")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise BadMessage(f"{name} is not JSON")


def loads(raw: bytes, where: str) -> Any:
    """Strict JSON: UTF-8, no repeated member, no NaN/Infinity (:class:`BadMessage` otherwise)."""
    try:
        return json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except BadMessage as exc:
        raise BadMessage(f"{where}: {exc.message}") from None
    except (ValueError, RecursionError) as exc:     # not UTF-8, not JSON, an integer of thousands of digits
        raise BadMessage(f"{where}: not JSON ({str(exc)[:80]})") from None


@dataclass(frozen=True)
class RegisterRequest(Message):
    """``POST /agent/v1/register``: a one-time token, the agent's name, its CSR and what it can do."""

    protocol: int
    token: str
    name: str
    csr: str
    capabilities: tuple[str, ...]

    FIELDS: ClassVar[tuple[Field, ...]] = (
        _protocol(),
        Field("token", "token", "string", max_length=64, pattern=TOKEN),
        Field("name", "name", "string", max_length=63, pattern=NAME),
        Field("csr", "csr", "string", max_length=PEM_MAX),
        Field("capabilities", "capabilities", "strings", max_length=63, pattern=CAPABILITY, max_items=32),
    )
    WHERE: ClassVar[str] = "register"


@dataclass(frozen=True)
class RegisterAnswer(Message):
    """The answer to a registration: the agent's client certificate, the agent CA, the appliance's id."""

    protocol: int
    name: str
    certificate: str
    ca_certificate: str
    appliance_id: str

    FIELDS: ClassVar[tuple[Field, ...]] = (
        _protocol(),
        Field("name", "name", "string", max_length=63, pattern=NAME),
        Field("certificate", "certificate", "string", max_length=PEM_MAX),
        Field("caCertificate", "ca_certificate", "string", max_length=PEM_MAX),
        Field("applianceId", "appliance_id", "string", max_length=71, pattern=r"^sha256:[0-9a-f]{64}$"),
    )
    WHERE: ClassVar[str] = "register answer"


@dataclass(frozen=True)
class Heartbeat(Message):
    """Carried on every poll: who the agent is, its clock, the leases it is working on."""

    protocol: int
    name: str
    sent: str
    running: tuple[str, ...]

    FIELDS: ClassVar[tuple[Field, ...]] = (
        _protocol(),
        Field("name", "name", "string", max_length=63, pattern=NAME),
        Field("sent", "sent", "string", max_length=20, pattern=TIME),
        Field("running", "running", "strings", max_length=64, pattern=ID, max_items=64),
    )
    WHERE: ClassVar[str] = "heartbeat"


@dataclass(frozen=True)
class TaskLease(Message):
    """A task given to one agent until ``expires``; results carry its lease id and idempotency key."""

    protocol: int
    lease_id: str
    idempotency_key: str
    type: str
    expires: str
    payload: dict[str, Any]

    FIELDS: ClassVar[tuple[Field, ...]] = (
        _protocol(),
        Field("leaseId", "lease_id", "string", max_length=64, pattern=ID),
        Field("idempotencyKey", "idempotency_key", "string", max_length=64, pattern=ID),
        Field("type", "type", "string", max_length=16, pattern="^(" + "|".join(TASK_TYPES) + ")$"),
        Field("expires", "expires", "string", max_length=20, pattern=TIME),
        Field("payload", "payload", "object", max_length=128 * 1024),
    )
    WHERE: ClassVar[str] = "task lease"


@dataclass(frozen=True)
class TaskResult(Message):
    """What an agent reports for a lease it holds; the first result under an idempotency key wins."""

    protocol: int
    lease_id: str
    idempotency_key: str
    status: str
    detail: str
    facts: dict[str, Any] | None = None

    FIELDS: ClassVar[tuple[Field, ...]] = (
        _protocol(),
        Field("leaseId", "lease_id", "string", max_length=64, pattern=ID),
        Field("idempotencyKey", "idempotency_key", "string", max_length=64, pattern=ID),
        Field("status", "status", "string", max_length=16, pattern="^(" + "|".join(RESULTS) + ")$"),
        Field("detail", "detail", "string", max_length=4096),
        Field("facts", "facts", "object", max_length=128 * 1024, required=False),
    )
    WHERE: ClassVar[str] = "task result"


@dataclass(frozen=True)
class RenewRequest(Message):
    """``POST /agent/v1/renew`` under mutual TLS: a CSR for a new key, before the certificate expires."""

    protocol: int
    name: str
    csr: str

    FIELDS: ClassVar[tuple[Field, ...]] = (
        _protocol(),
        Field("name", "name", "string", max_length=63, pattern=NAME),
        Field("csr", "csr", "string", max_length=PEM_MAX),
    )
    WHERE: ClassVar[str] = "renew"


@dataclass(frozen=True)
class RenewAnswer(Message):
    """The renewed client certificate (the old one is refused from then on)."""

    protocol: int
    name: str
    certificate: str

    FIELDS: ClassVar[tuple[Field, ...]] = (
        _protocol(),
        Field("name", "name", "string", max_length=63, pattern=NAME),
        Field("certificate", "certificate", "string", max_length=PEM_MAX),
    )
    WHERE: ClassVar[str] = "renew answer"


MESSAGES: dict[str, type[Message]] = {
    "register-request": RegisterRequest, "register-answer": RegisterAnswer, "heartbeat": Heartbeat,
    "task-lease": TaskLease, "task-result": TaskResult, "renew-request": RenewRequest, "renew-answer": RenewAnswer,
}
