"""JSON Schemas shipped in ``docs/schemas/`` (packaged as ``kit/schemas``), and validation.

The code validates against the very files the documentation links to.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema

from kit.errors import SchemaError

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"


@functools.cache
def _validator(name: str) -> jsonschema.protocols.Validator:
    schema = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def validator(name: str) -> jsonschema.protocols.Validator:
    """The validator of ``docs/schemas/<name>.schema.json``, for callers that want every error."""
    return _validator(name)


def validate(name: str, document: Any, where: str) -> None:
    """Validate *document* against ``docs/schemas/<name>.schema.json``.

    Raises:
        KitFormatError: kind ``schema``; the message names the first failing location.
    """
    errors = sorted(_validator(name).iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        first = errors[0]
        location = "/".join(str(p) for p in first.absolute_path) or "(top)"
        message = first.message if len(first.message) < 300 else first.message[:300] + "…"
        raise SchemaError(f"{where} does not match schema {name} at {location}: {message}")
