"""The JSON Schema of a workflow template, built from the step registry.

docs/schemas/workflow.schema.json is this document as written by
``scripts/workflowschema.py``; a test checks that the file and the registry agree, so the
schema users read and the one templates are validated against are the same.
"""

from __future__ import annotations

from typing import Any

from kit.workflow.model import SCHEMA
from kit.workflow.steps import REGISTRY
from kit.workflow.steps.base import DURATION

MAX_STEPS = 500
STEP_ID = {"type": "string", "pattern": "^[a-z][a-z0-9-]{0,62}$"}
OUTPUT_NAME = {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_-]{0,62}$"}


# Small definitions are written inline rather than as ``$ref``s: a reference costs a lookup
# per use, and a template may list tens of thousands of ``needs``.
def _step() -> dict[str, Any]:
    branches = []
    for name, kind in sorted(REGISTRY.items()):
        then: dict[str, Any] = {"properties": {"with": {"$ref": f"#/$defs/with-{name}"}}}
        if kind.required:
            then["required"] = ["with"]
        branches.append({"if": {"properties": {"uses": {"const": name}}, "required": ["uses"]}, "then": then})
    return {
        "type": "object", "additionalProperties": False, "required": ["id", "uses"],
        "properties": {
            "id": STEP_ID,
            "uses": {"enum": sorted(REGISTRY), "description": "the step type"},
            "needs": {"type": "array", "maxItems": MAX_STEPS, "uniqueItems": True, "items": STEP_ID},
            "if": {"type": "string", "minLength": 1, "maxLength": 1024,
                   "description": "condition (docs/workflows.md Expressions); default success()"},
            "with": {"type": "object", "description": "the step type's settings"},
            "retry": {"$ref": "#/$defs/retry"},
            "timeout": DURATION,
            "continueOnError": {"type": "boolean"},
            "outputs": {"type": "array", "maxItems": 64, "uniqueItems": True, "items": OUTPUT_NAME},
        },
        "allOf": branches,
    }


def schema_document() -> dict[str, Any]:
    defs: dict[str, Any] = {
        "step": _step(),
        "retry": {
            "type": "object", "additionalProperties": False, "required": ["limit"],
            "properties": {
                "limit": {"type": "integer", "minimum": 0, "maximum": 100, "description": "extra attempts"},
                "backoff": {"type": "object", "additionalProperties": False, "properties": {
                    "duration": DURATION,
                    "factor": {"type": "integer", "minimum": 1, "maximum": 10},
                    "cap": DURATION}},
            },
        },
    }
    for name, kind in sorted(REGISTRY.items()):
        defs[f"with-{name}"] = {**kind.settings_schema(), "description": kind.summary}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://stella-ops.invalid/schemas/workflow-1.schema.json",
        "title": "Stella workflow template (docs/workflows.md)",
        "type": "object", "additionalProperties": False, "required": ["schema", "name", "steps"],
        "properties": {
            "schema": {"const": SCHEMA},
            "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,62}$"},
            "description": {"type": "string", "maxLength": 4096},
            "steps": {"type": "array", "minItems": 1, "maxItems": MAX_STEPS, "items": {"$ref": "#/$defs/step"}},
        },
        "$defs": defs,
    }
