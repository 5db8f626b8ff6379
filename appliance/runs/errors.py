"""Errors of workflow runs (docs/workflows.md "Runs")."""

from __future__ import annotations

from appliance.errors import ConflictError, NotFound


class UnknownRun(NotFound):
    """No workflow run has that id."""

    kind = "unknown-run"


class RunFinished(ConflictError):
    """The run has ended: it cannot be cancelled or resumed."""

    kind = "run-finished"


class StepNotDue(ConflictError):
    """The run cannot reach the step asked for now (it waits on another step)."""

    kind = "step-not-due"
