"""``approval``: wait for N approvals by a role; one rejection fails the step (and ends the run)."""

from __future__ import annotations

from kit.workflow.steps.base import StepType

TYPE = StepType(
    name="approval",
    summary="wait for approvals; a rejection fails the step (settings not given come from the environment)",
    properties={
        "role": {"type": "string", "pattern": "^[a-z][a-z0-9-]{0,31}$", "description": "the approver role"},
        "count": {"type": "integer", "minimum": 0, "maximum": 1000, "description": "approvals needed"},
        "separationOfDuties": {"type": "boolean",
                               "description": "the requester and deployer may not approve"},
    },
    outputs=("approvers", "count"),
    resume="reattach",
    ends_run=True,
)
