"""The errors of the agent protocol, shared by the appliance and ``stella-agent`` (docs/agent-protocol.md).

Both sides raise them and the HTTP envelope carries the kind, so an agent prints the same
kind the appliance refused with.
"""

from __future__ import annotations

from kit.errors import Conflict, KitError, KitFormatError, KitVerificationError, Usage


class BadMessage(KitFormatError):
    """An agent-protocol message is not JSON, has an unknown or missing field, a wrong type or an over-long value."""

    kind = "bad-message"


class BadCSR(KitFormatError):
    """A registration's CSR is not one PEM request, is badly signed, has no EC P-256 key or names another agent."""

    kind = "bad-csr"


class TokenRefused(KitVerificationError):
    """A registration token is unknown, already used, expired or revoked (the audit log says which)."""

    kind = "token-refused"


class AgentExists(KitError, Conflict):
    """An agent of that name is already registered (revoked names stay taken)."""

    kind = "agent-exists"


class AlreadyRegistered(KitError, Conflict):
    """The agent's state directory already holds a registration; it is never overwritten."""

    kind = "already-registered"


class CAMismatch(KitVerificationError):
    """The agent CA an appliance answered with is not the one whose fingerprint the admin gave (--ca-fingerprint)."""

    kind = "ca-mismatch"


class NotRegistered(KitError, Usage):
    """The agent's state directory holds no registration (run ``stella-agent register``)."""

    kind = "not-registered"


class CertificateRefused(KitVerificationError):
    """A call on the agent listener came without a client certificate, or with one of an unknown or revoked agent."""

    kind = "certificate-refused"


class LeaseRefused(KitError, Conflict):
    """A task result names a lease the agent does not hold (another agent's, an expired or an unknown one)."""

    kind = "lease-refused"
