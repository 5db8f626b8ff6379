"""Canonical JSON: the one byte form every signed or hashed document takes.

Rules (documented in docs/kit-format.md): UTF-8, keys sorted by code point, no
insignificant whitespace, no floats (integers, strings, booleans, null, arrays and
objects only), no duplicate keys when reading. Every digest and signature in the
project is taken over these bytes, so the same document gives the same digest on any
machine, locale or hash seed.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


class CanonicalJSONError(ValueError):
    """A value cannot be put in canonical form, or JSON text is not acceptable."""


def _check(value: Any, where: str = "$") -> None:
    if value is None or isinstance(value, (bool, str)):
        return
    if isinstance(value, int):
        return
    if isinstance(value, float):
        raise CanonicalJSONError(f"floats are not allowed in canonical JSON (at {where})")
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CanonicalJSONError(f"object keys must be strings (at {where})")
            _check(item, f"{where}.{key}")
        return
    raise CanonicalJSONError(f"type {type(value).__name__} is not JSON (at {where})")


def dumps(value: Any) -> bytes:
    """Encode *value* as canonical JSON bytes.

    Raises:
        CanonicalJSONError: the value holds a float, a non-string key or a non-JSON type.
    """
    _check(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise CanonicalJSONError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_float(text: str) -> Any:
    raise CanonicalJSONError(f"floats are not allowed: {text}")


def _no_constant(text: str) -> Any:
    raise CanonicalJSONError(f"{text} is not JSON")


def loads(data: bytes | str, *, allow_floats: bool = False) -> Any:
    """Parse JSON strictly: duplicate keys, NaN/Infinity and (by default) floats are errors.

    Raises:
        CanonicalJSONError: the text is not valid JSON or breaks one of the rules above, nests
            deeper than the parser allows, or holds an integer over 4300 digits.
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return json.loads(text, object_pairs_hook=_no_duplicates,
                          parse_float=None if allow_floats else _no_float,
                          parse_constant=_no_constant)
    except CanonicalJSONError:
        raise
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise CanonicalJSONError(f"invalid JSON: {exc}") from None
    except ValueError as exc:      # an integer beyond Python's digit limit (4300 digits)
        raise CanonicalJSONError(f"invalid JSON: a number is too long ({str(exc)[:80]})") from None


def is_canonical(data: bytes) -> bool:
    """True when *data* is exactly the canonical encoding of what it parses to."""
    try:
        return dumps(loads(data)) == data
    except CanonicalJSONError:
        return False


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digest(value: Any) -> str:
    """``sha256:<hex>`` of the canonical encoding of *value*."""
    return "sha256:" + sha256_hex(dumps(value))
