"""Errors of the appliance, on top of ``kit.errors`` so one mapper gives every exit code.

``kit.errors.exit_code_for`` honours an ``exit_code`` attribute: conflicts (another
import running, a kit older than the active one) exit 5; everything else follows the
kit classes (refused 1, malformed 3, I/O 4).
"""

from __future__ import annotations

from kit import exitcodes
from kit.errors import KitError, KitIOError, KitVerificationError


class ApplianceError(KitError):
    """Root of the appliance's own errors (internal or I/O by default: exit 4)."""

    kind = "appliance-error"


class HomeError(KitIOError):
    """The home directory is missing, not initialised, or already initialised."""

    kind = "home"


class NotInitialisedError(HomeError):
    kind = "not-initialised"
    exit_code = exitcodes.USAGE


class ConflictError(ApplianceError):
    """Another process holds the lock, or the kit is older than the active one."""

    kind = "conflict"
    exit_code = exitcodes.CONFLICT


class RefusedError(KitVerificationError):
    """A check refused the operation (delta base missing, trust rotation not signed...)."""

    kind = "refused"


class RegistryError(ApplianceError):
    """The local registry could not be started or seeded."""

    kind = "registry"
