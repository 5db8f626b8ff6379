"""``health``: probe the release on its targets (HTTP or TCP) until it passes, fails or the deadline ends."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kit.workflow.steps.base import DURATION, TARGETS, StepType

EXPRESSION = {"type": "string", "minLength": 1, "maxLength": 1024}


def check_probe(settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Settings of an http probe given to a tcp one (also for a deploy's ``health``)."""
    if settings.get("probe") == "tcp":
        return [(key, f"{key} is a setting of an http probe, not of tcp")
                for key in ("path", "successExpression", "failureExpression") if key in settings]
    return []


PROBE: dict[str, Any] = {
    "probe": {"enum": ["http", "tcp"]},
    "port": {"type": "integer", "minimum": 1, "maximum": 65535},
    "path": {"type": "string", "pattern": "^/[ -~]{0,1023}$"},
    "successExpression": {**EXPRESSION, "description": "over the response's status and body"},
    "failureExpression": {**EXPRESSION, "description": "over the response's status and body"},
    "interval": {**DURATION, "description": "poll interval (default 30s)"},
    "deadline": {**DURATION, "description": "give up (fail) after this long"},
}
REQUIRED = ("probe", "port")

TYPE = StepType(
    name="health",
    summary="probe each target over HTTP or TCP from its engine until success, failure or the deadline",
    properties={"targets": TARGETS, **PROBE},
    required=REQUIRED,
    outputs=("status", "body"),
    resume="rerun",
    check=check_probe,
)
