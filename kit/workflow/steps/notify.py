"""``notify``: an entry in the appliance's outbox (console, API); a webhook only to an address the admin allowed."""

from __future__ import annotations

from kit.workflow.steps.base import StepType

TYPE = StepType(
    name="notify",
    summary="write a message to the appliance's outbox, optionally to an allowed webhook",
    properties={
        "message": {"type": "string", "minLength": 1, "maxLength": 4096},
        "severity": {"enum": ["info", "warning", "critical"]},
        "webhook": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,62}$",
                    "description": "name of a webhook the admin allowed"},
    },
    required=("message",),
    outputs=("outbox",),
    resume="rerun",
)
