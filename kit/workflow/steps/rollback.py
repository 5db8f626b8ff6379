"""``rollback``: redeploy the previous release (or a named one) to the targets, whole stack."""

from __future__ import annotations

from kit.workflow.steps.base import TARGETS, StepType

TYPE = StepType(
    name="rollback",
    summary="redeploy the release that ran before (or `to`) on the targets, whole stack",
    properties={
        "targets": TARGETS,
        "to": {"type": "string", "pattern": "^(previous|[a-z0-9][a-z0-9._-]{0,62}@[A-Za-z0-9][A-Za-z0-9._+-]{0,127})$",
               "description": "previous (default) or NAME@VERSION"},
    },
    outputs=("deployment",),
    resume="inspect",
)
