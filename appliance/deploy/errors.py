"""Deploy errors; exit codes follow the kit classes (clisupport maps them in one place).

refused (1): the deploy ran and failed (health, pull), rolled back; usage (2): an unknown
target; malformed (3): a template the lock file cannot be rendered from; I/O (4): a
target engine that does not answer; conflict (5): another process is deploying.
"""

from __future__ import annotations

from appliance.errors import ApplianceError, ApplianceFormatError, NotFound
from kit.errors import Conflict, IOFailure, Refused


class DeployError(ApplianceError, IOFailure):
    """A target could not be reached or driven (exit 4)."""


class EngineDown(DeployError):
    """A target's Docker engine does not answer."""

    kind = "engine-unreachable"


class RegistryUnreachable(DeployError):
    """A target's engine cannot pull from the appliance registry."""

    kind = "registry-unreachable"


class StickerUnreachable(DeployError):
    """No image on the target's engine can mount the sticker volume."""

    kind = "sticker-unreachable"


class StickerWriteFailed(DeployError):
    """The version sticker could not be written to its volume."""

    kind = "sticker-write"


class DeployFailed(ApplianceError, Refused):
    """The rollout ran and failed; the report says what was rolled back (exit 1)."""

    kind = "deploy-failed"


class UnknownTarget(NotFound):
    """No deploy target has that name."""

    kind = "unknown-target"


class DeployConflict(ApplianceError, Conflict):
    """Another process is deploying to the environment."""

    kind = "deploy-running"


class ProbeNotSupported(ApplianceFormatError):
    """A deploy step's health probe was asked of agent targets, whose hosts the appliance does not dial."""

    kind = "probe-not-supported"


class BlueGreenNotSetUp(ApplianceFormatError):
    """A blue-green deploy's target lacks its ports, upstream file or proxy reload command."""

    kind = "blue-green-not-set-up"
