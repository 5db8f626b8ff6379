"""``approval``: wait for N approvals by a role; one rejection fails the step (and ends the run)."""

from __future__ import annotations

from kit.workflow.steps.base import StepType

# The appliance's roles (appliance/users.py ROLES; a test keeps them equal): a template may
# not ask for approvals from a role nobody can hold.
ROLES = ("requester", "approver", "deployer", "admin", "auditor")

TYPE = StepType(
    name="approval",
    summary="wait for approvals; a rejection fails the step (settings not given come from the environment)",
    properties={
        "role": {"enum": list(ROLES), "description": "the role approvers hold"},
        "count": {"type": "integer", "minimum": 0, "maximum": 1000, "description": "approvals needed"},
        "separationOfDuties": {"type": "boolean",
                               "description": "the requester and deployer may not approve"},
    },
    outputs=("approvers", "count"),
    resume="reattach",
    ends_run=True,
)
