"""What a step type declares: its name, the settings it accepts (``with``), its outputs,
and what a resumed run may do with an attempt that was running when the appliance stopped.

Settings are a JSON Schema fragment (draft 2020-12) for the ``with`` mapping; it is part of
docs/schemas/workflow.schema.json (scripts/workflowschema.py writes it from the registry).
Rules one schema cannot say well (a setting allowed only with another) go in ``check``,
which returns ``(setting, message)`` pairs. Acting (the executor) is the appliance's, later.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

# What a resumed run does with an attempt found running after a crash (docs/workflows.md):
# "rerun" starts it again (no effect outside the appliance), "reattach" waits on what it
# started (a container, a timer), "inspect" asks the engine what runs before acting again.
Resume = Literal["rerun", "reattach", "inspect"]

DURATION = {"type": "string", "pattern": r"^(?=.)(?:[0-9]{1,6}d)?(?:[0-9]{1,6}h)?(?:[0-9]{1,6}m)?(?:[0-9]{1,6}s)?$",
            "maxLength": 32, "description": "a duration: 90s, 5m, 1h30m, 2d"}
NAME = {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,62}$"}
LABELS = {"type": "object", "maxProperties": 32, "propertyNames": {"pattern": "^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$"},
          "additionalProperties": {"type": "string", "maxLength": 256}}
TARGETS = {"type": "object", "additionalProperties": False, "description": "which targets: by environment and labels",
           "properties": {"environment": NAME, "labels": LABELS}}

Check = Callable[[Mapping[str, Any]], list[tuple[str, str]]]


def _no_check(_settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    return []


@dataclass(frozen=True)
class StepType:
    """One step type of the registry (``uses: NAME``)."""

    name: str
    summary: str
    properties: Mapping[str, Any]                  # setting name -> JSON Schema of its value
    required: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()                  # the outputs every step of this type sets
    resume: Resume = "rerun"
    check: Check = field(default=_no_check)
    ends_run: bool = False      # its failure ends the run: nothing new starts but clean-up, running steps stop

    def settings_schema(self) -> dict[str, Any]:
        """The JSON Schema of this type's ``with`` mapping."""
        schema: dict[str, Any] = {"type": "object", "additionalProperties": False,
                                  "properties": dict(self.properties)}
        if self.required:
            schema["required"] = list(self.required)
        return schema
