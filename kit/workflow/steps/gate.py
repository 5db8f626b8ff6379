"""``gate``: evaluate today's gates (kit.gates.decide), or a named Rego policy pack."""

from __future__ import annotations

from kit.workflow.steps.base import StepType

GATES = ("policy", "freeze", "previous-environment")

TYPE = StepType(
    name="gate",
    summary="evaluate the promotion gates (all of today's when `gates` is not given) or a named policy pack",
    properties={
        "gates": {"type": "array", "minItems": 1, "uniqueItems": True, "items": {"enum": list(GATES)},
                  "description": "which gates to evaluate (default: all three)"},
        "pack": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,62}$",
                 "description": "a named Rego policy pack instead of the environment's"},
    },
    outputs=("verdict", "decision"),
    resume="rerun",
)
