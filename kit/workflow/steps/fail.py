"""``fail``: fail the run on purpose, with a message (e.g. under a condition)."""

from __future__ import annotations

from kit.workflow.steps.base import StepType

TYPE = StepType(
    name="fail",
    summary="fail with a message (use with `if`)",
    properties={"message": {"type": "string", "minLength": 1, "maxLength": 4096}},
    resume="rerun",
)
