"""``deploy``: roll the release out to targets, with a strategy.

``all-at-once`` (today's deploy), ``rolling`` (``window`` targets at a time, ``pause`` and
an optional ``health`` step between batches), ``canary`` (``canary`` targets first, then
health and ``soak``, then the rest), ``blue-green`` (Compose: the new stack beside the old,
health, then switch). A failed batch rolls back every target already changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kit.workflow.steps.base import DURATION, TARGETS, StepType
from kit.workflow.steps.health import PROBE, REQUIRED, check_probe

STRATEGIES = ("all-at-once", "rolling", "canary", "blue-green")
# Settings that belong to one strategy only.
ONLY = {"window": "rolling", "pause": "rolling", "canary": "canary", "soak": "canary"}


def _check(settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    strategy = settings.get("strategy", "all-at-once")
    found = [(key, f"{key} is a setting of strategy {wanted}, not of {strategy}")
             for key, wanted in sorted(ONLY.items()) if key in settings and strategy != wanted]
    probe = settings.get("health")
    if isinstance(probe, dict):
        found += [(f"health.{key}", message) for key, message in check_probe(probe)]
    return found


TYPE = StepType(
    name="deploy",
    summary="deploy the release to the environment's targets (or those selected), with a rollout strategy",
    properties={
        "targets": TARGETS,
        "strategy": {"enum": list(STRATEGIES), "description": "default all-at-once"},
        "window": {"type": "integer", "minimum": 1, "maximum": 1000, "description": "rolling: targets per batch"},
        "pause": {**DURATION, "description": "rolling: wait between batches"},
        "canary": {"type": "integer", "minimum": 1, "maximum": 1000, "description": "canary: targets first"},
        "soak": {**DURATION, "description": "canary: wait after the canary is healthy"},
        "health": {"type": "object", "additionalProperties": False, "required": list(REQUIRED),
                   "properties": PROBE, "description": "a health probe (as the health step's) after each batch"},
    },
    outputs=("deployment", "changed"),
    resume="inspect",
    check=_check,
)
