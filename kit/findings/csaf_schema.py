"""Validation of CSAF 2.0 documents against the official OASIS JSON schema, offline.

The schema (docs/schemas/csaf-2.0.schema.json, OASIS CSAF TC, see
docs/schemas/LICENSE-OASIS-CSAF.md) ``$ref``s the FIRST CVSS v2.0/v3.0/v3.1 schemas by
URL; those are vendored beside it (``cvss-v*.schema.json``) and served from a local
registry, so validation never touches the network.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import jsonschema
from referencing import Registry, Resource

from kit.findings.errors import FindingsFormatError
from kit.schema import SCHEMA_DIR

CSAF_SCHEMA = "csaf-2.0"
_CVSS = {f"https://www.first.org/cvss/cvss-{v}.json": f"cvss-{v}" for v in ("v2.0", "v3.0", "v3.1")}


def _load(name: str) -> Any:
    return json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8"))


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    registry: Registry[Any] = Registry().with_resources(
        (url, Resource.from_contents(_load(name))) for url, name in _CVSS.items())
    schema = _load(CSAF_SCHEMA)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, registry=registry, format_checker=cls.FORMAT_CHECKER)


def _printable(text: str) -> str:
    """*text* with control characters escaped (``\\n``), so a message stays on one line."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def pointer(parts: Any) -> str:
    """A JSON Pointer (``/vulnerabilities/0/cve``) from path parts; ``/`` for the document."""
    text = "/".join(_printable(str(p)).replace("~", "~0").replace("/", "~1") for p in parts)
    return "/" + text if text else "/"


def validate_csaf(doc: Any) -> None:
    """Check *doc* against the CSAF 2.0 JSON schema.

    Raises:
        FindingsFormatError: the first failing location (by JSON path) as ``entry`` and a
            message that starts with it.
    """
    errors = sorted(_validator().iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        first = errors[0]
        where = pointer(first.absolute_path)
        message = _printable(first.message if len(first.message) < 200 else first.message[:200] + "…")
        raise FindingsFormatError(f"{where}: not valid CSAF 2.0: {message}", entry=where)
