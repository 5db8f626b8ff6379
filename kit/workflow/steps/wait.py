"""``wait``: a soak — succeed once the duration has passed since the step started."""

from __future__ import annotations

from kit.workflow.steps.base import DURATION, StepType

TYPE = StepType(
    name="wait",
    summary="a soak: succeeds when the duration has passed since the step started",
    properties={"duration": DURATION},
    required=("duration",),
    resume="reattach",
)
