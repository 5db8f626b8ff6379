"""Errors of the appliance, on top of ``kit.errors`` so one mapper gives every exit code.

Each kind is a class under ``ApplianceError`` with one category mixin from ``kit.errors``
giving its exit code: refused 1, usage 2, malformed 3, I/O 4, conflict 5 (another import
running, a kit older than the active one).
"""

from __future__ import annotations

from kit.errors import Conflict, IOFailure, Malformed, Refused, StellaError, Usage


class ApplianceError(StellaError):
    """Root of the appliance's own errors (the category mixin of each kind gives its exit code)."""


class DatabaseError(ApplianceError, IOFailure):
    """The appliance database cannot be migrated (a newer schema, a failed migration)."""

    kind = "appliance-error"


class HomeError(ApplianceError, IOFailure):
    """The home directory is missing or holds no trust root."""

    kind = "home"


class DamagedHome(HomeError):
    """The appliance's own files were lost or damaged (stella.db missing, empty or truncated next to its key)."""

    kind = "damaged-home"


class NotInitialisedError(ApplianceError, Usage):
    """The home directory was never initialised (run ``stella init``)."""

    kind = "not-initialised"


class NotFound(ApplianceError, Usage):
    """A name the appliance does not know (exit 2; HTTP 404)."""


class ConflictError(ApplianceError, Conflict):
    """Another process holds the lock, or the kit is older than the active one."""


class Locked(ConflictError):
    """Another stella process holds the appliance lock."""

    kind = "locked"


class OlderThanActive(ConflictError):
    """The kit or trust root is not newer than the active one (a rollback)."""

    kind = "older-than-active"


class AlreadyInitialised(ConflictError):
    """The home directory is already initialised."""

    kind = "already-initialised"


class RefusedError(ApplianceError, Refused):
    """A check refused the operation (delta base missing, trust rotation not signed...)."""


class KitChanged(RefusedError):
    """The kit file changed while it was being imported; nothing was imported."""

    kind = "kit-changed"


class TrustChanged(RefusedError):
    """The trust root changed while a kit was being imported; nothing was imported."""

    kind = "trust-changed"


class BaseMissing(RefusedError):
    """A delta kit's base kit, or an entry it inherits, is not on this appliance."""

    kind = "base-missing"


class RegistryError(ApplianceError, IOFailure):
    """The local registry could not be started or seeded."""

    kind = "registry"


class RegistryDown(RegistryError):
    """The local registry does not answer, so a deploy cannot pull from it."""

    kind = "registry-down"


class ApplianceFormatError(ApplianceError, Malformed):
    """A name, option or stored document given to the appliance is malformed."""


class BadName(ApplianceFormatError):
    """A user, environment, target or Compose project name (or a ``--tls-name``) has characters it may not have."""

    kind = "bad-name"


class BadDockerURL(ApplianceFormatError):
    """A target's Docker URL is not ``unix://``, ``tcp://`` or ``ssh://``."""

    kind = "bad-docker-url"


class BadTimeout(ApplianceFormatError):
    """A target's health timeout is below one second."""

    kind = "bad-timeout"


class BadRole(ApplianceFormatError):
    """A user was to be given no role, or a role the appliance does not know."""

    kind = "bad-role"


class BadRelease(ApplianceFormatError):
    """A stored release document is not canonical JSON or not a release."""

    kind = "bad-release"


class BadDocument(ApplianceFormatError):
    """A stored document is not UTF-8 text."""

    kind = "bad-document"


class NoTargets(ApplianceFormatError):
    """An environment has no deploy targets."""

    kind = "no-targets"


class NoComposeTemplate(ApplianceFormatError):
    """A release has no Compose template to render its lock file from."""

    kind = "no-compose-template"


class BadListen(ApplianceFormatError):
    """``stella serve --listen`` is not HOST:PORT, or names a non-loopback address without TLS."""

    kind = "bad-listen"


class AccountRefused(ApplianceError, Refused):
    """Root of the refusals of logging in and of API tokens (the HTTP face answers 401 or 429)."""


class LoginFailed(AccountRefused):
    """Unknown user, no console password set, or a wrong password (the message does not say which)."""

    kind = "login-failed"


class RateLimited(AccountRefused):
    """Too many failed logins for that user or from that address lately; wait and try again."""

    kind = "rate-limited"


class BadPassword(ApplianceFormatError):
    """A console password that is too short, too long, empty, or not confirmed identically."""

    kind = "bad-password"


class UnknownToken(NotFound):
    """No API token has that id (``stella token list``)."""

    kind = "unknown-token"


class UnknownAgent(NotFound):
    """No agent has that name (``stella agent list``)."""

    kind = "unknown-agent"


class AgentDown(ApplianceError, Refused):
    """An agent a deploy needs has sent no heartbeat within the grace, or is revoked (``stella agent list``)."""

    kind = "agent-down"


class AgentTaskTimeout(ApplianceError, IOFailure):
    """An agent task got no result within the time the appliance waits for it."""

    kind = "agent-timeout"


class ScriptImageUnknown(RefusedError):
    """A script step names an image (by digest) that no imported kit carried."""

    kind = "script-image-unknown"
