"""Errors of release orchestration, mapped to exit codes by clisupport (docs/cli.md).

Refused by a check (1): a gate blocks, a role is missing, separation of duties, a second
approval. Usage (2): an unknown release, environment, user or promotion. Conflict (5):
the promotion is not in a state that allows the transition.
"""

from __future__ import annotations

from appliance.errors import ApplianceError, NotFound
from kit.errors import Conflict, Refused


class OrchestrationRefused(ApplianceError, Refused):
    """A check refused a promotion, approval, deploy or environment change."""


class MissingRole(OrchestrationRefused):
    """The acting user lacks the role the operation needs."""

    kind = "missing-role"


class NoUser(OrchestrationRefused):
    """No acting user was given (``--as USER`` or ``STELLA_USER``)."""

    kind = "no-user"


class NoReason(OrchestrationRefused):
    """A promotion, freeze window or stop-the-line was given no ``--reason``."""

    kind = "no-reason"


class NoComment(OrchestrationRefused):
    """A rejection was given no ``--comment``."""

    kind = "no-comment"


class SeparationOfDuties(OrchestrationRefused):
    """The requester of a promotion may not approve it."""

    kind = "separation-of-duties"


class AlreadyApproved(OrchestrationRefused):
    """The user has already approved this promotion."""

    kind = "already-approved"


class NoDeployAs(OrchestrationRefused):
    """An automatic deploy target names no user to deploy as."""

    kind = "no-deploy-as"


class UnknownRelease(NotFound):
    """No release has that name and version (or the reference is not NAME@VERSION)."""

    kind = "unknown-release"


class UnknownEnvironment(NotFound):
    """No environment has that name."""

    kind = "unknown-environment"


class UnknownWindow(NotFound):
    """No active freeze window has that id."""

    kind = "unknown-window"


class UnknownUser(NotFound):
    """No user has that name."""

    kind = "unknown-user"


class UnknownPromotion(NotFound):
    """No promotion has that id."""

    kind = "unknown-promotion"


class UnknownDecision(NotFound):
    """No stored decision record has that digest."""

    kind = "unknown-decision"


class MissingInput(NotFound):
    """An input of a stored decision record is missing from the store."""

    kind = "missing-input"


class NoDecision(NotFound):
    """The promotion has no decision record yet."""

    kind = "no-decision"


class UnknownDeployment(NotFound):
    """No deployment has that id."""

    kind = "unknown-deployment"


class UnknownJob(NotFound):
    """No job of the service has that id."""

    kind = "unknown-job"


class NoDeployment(NotFound):
    """The promotion has not been deployed."""

    kind = "no-deployment"


class NotDeployed(NotFound):
    """No version of the release is deployed in the environment."""

    kind = "not-deployed"


class NoPreviousRelease(NotFound):
    """There is no earlier release to roll back to."""

    kind = "no-previous-release"


class StateConflict(ApplianceError, Conflict):
    """The promotion or environment is not in a state that allows the transition (exit 5)."""


class DuplicatePromotion(StateConflict):
    """The release already has a pending promotion to that environment."""

    kind = "duplicate"


class BadTransition(StateConflict):
    """The promotion is not in a state that allows the transition."""

    kind = "bad-transition"


class AlreadyExists(StateConflict):
    """An environment, target or freeze-window order of that name already exists."""

    kind = "exists"


class PlanNotReady(StateConflict):
    """A planned upload cannot be imported: its plan did not succeed, or it was imported or discarded."""

    kind = "plan-not-ready"


class AlreadyStopped(StateConflict):
    """The line is already stopped."""

    kind = "already-stopped"


class NotStopped(StateConflict):
    """The line is not stopped, so it cannot be resumed."""

    kind = "not-stopped"


class NoPolicyPack(NotFound):
    """A workflow's gate step names a policy pack no imported kit carries."""

    kind = "no-policy-pack"


class NoRunPacket(NotFound):
    """The promotion's workflow run has not ended (no workflow_run packet yet)."""

    kind = "no-run-packet"
