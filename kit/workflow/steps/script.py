"""``script``: a command in a container from an image that came in a kit — no network,
read-only root, memory and time limits; judged by its exit code, output kept in the step log."""

from __future__ import annotations

from kit.workflow.steps.base import StepType

TYPE = StepType(
    name="script",
    summary="run a command in a container from a kit's image: no network, read-only root, limits",
    properties={
        "image": {"type": "string", "maxLength": 512,
                  "pattern": "^[a-z0-9][a-z0-9._/:-]{0,255}@sha256:[0-9a-f]{64}$",
                  "description": "pinned by digest"},
        "command": {"type": "array", "minItems": 1, "maxItems": 256,
                    "items": {"type": "string", "maxLength": 4096}},
        "env": {"type": "object", "maxProperties": 64, "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]{0,63}$"},
                "additionalProperties": {"type": "string", "maxLength": 4096}},
        "memory": {"type": "string", "pattern": "^[1-9][0-9]{0,5}(Ki|Mi|Gi)$", "description": "e.g. 256Mi"},
        "logLimit": {"type": "string", "pattern": "^[1-9][0-9]{0,5}(Ki|Mi)$", "description": "log kept (default 1Mi)"},
    },
    required=("image", "command"),
    outputs=("exitCode",),
    resume="reattach",
)
