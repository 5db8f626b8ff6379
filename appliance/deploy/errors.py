"""Deploy errors; exit codes follow the kit classes (clisupport maps them in one place).

refused (1): the deploy ran and failed (health, pull), rolled back; usage (2): an unknown
target; malformed (3): a template the lock file cannot be rendered from; I/O (4): a
target engine that does not answer; conflict (5): another process is deploying.
"""

from __future__ import annotations

from kit import exitcodes
from kit.errors import KitError, KitVerificationError

from appliance.errors import ApplianceError


class DeployError(ApplianceError):
    """A target could not be reached or driven (exit 4)."""

    kind = "deploy-error"


class EngineDown(DeployError):
    kind = "engine-unreachable"


class DeployFailed(KitVerificationError):
    """The rollout ran and failed; the report says what was rolled back (exit 1)."""

    kind = "deploy-failed"


class UnknownTarget(KitError):
    kind = "unknown-target"
    exit_code = exitcodes.USAGE


class DeployConflict(KitError):
    kind = "deploy-running"
    exit_code = exitcodes.CONFLICT
