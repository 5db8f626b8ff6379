"""How a message's fields are declared and checked: one table per message, read by ``from_dict``,
``to_dict`` and the test that holds the JSON Schemas in docs/schemas/agent-*.schema.json to it.

A field is a string (with a length limit and an anchored pattern), an integer (a range), a
list of distinct strings (an item count, each item a string field) or an object (a JSON
object whose encoding fits a byte limit). Nothing else: no null, no float, no field the
table does not name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from kit.agentproto.errors import BadMessage
from kit.errors import cut

Kind = Literal["string", "integer", "strings", "object"]


@dataclass(frozen=True)
class Field:
    """One JSON member of a message: its name, attribute, kind and limits."""

    key: str                            # the JSON name (camelCase)
    attr: str                           # the dataclass attribute (snake_case)
    kind: Kind
    max_length: int = 0                 # string: characters; object: bytes of its JSON; strings: per item
    pattern: str | None = None          # string, strings items: an anchored regex
    max_items: int = 0                  # strings
    minimum: int = 0                    # integer
    maximum: int = 0                    # integer
    required: bool = True

    def check(self, value: Any, where: str) -> Any:
        """*value* as this field's Python value (a tuple for a list).

        Raises:
            BadMessage: the value has the wrong type, is too long, or does not match.
        """
        at = f"{where}.{self.key}"
        if self.kind == "string":
            return _string(value, self.max_length, self.pattern, at)
        if self.kind == "integer":
            if not isinstance(value, int) or isinstance(value, bool):
                raise BadMessage(f"{at}: must be an integer")
            if not self.minimum <= value <= self.maximum:
                raise BadMessage(f"{at}: must be between {self.minimum} and {self.maximum}")
            return value
        if self.kind == "strings":
            if not isinstance(value, list):
                raise BadMessage(f"{at}: must be a list of strings")
            if len(value) > self.max_items:
                raise BadMessage(f"{at}: at most {self.max_items} items")
            items = tuple(_string(v, self.max_length, self.pattern, f"{at}[{i}]") for i, v in enumerate(value))
            if len(set(items)) != len(items):
                raise BadMessage(f"{at}: an item is repeated")
            return items
        if not isinstance(value, dict):
            raise BadMessage(f"{at}: must be an object")
        try:
            size = len(json.dumps(value, ensure_ascii=False, allow_nan=False).encode())
        except (ValueError, TypeError, RecursionError) as exc:
            raise BadMessage(f"{at}: not a JSON object ({exc})") from None
        if size > self.max_length:
            raise BadMessage(f"{at}: {size} bytes, at most {self.max_length}")
        return value

    def dump(self, value: Any) -> Any:
        return list(value) if self.kind == "strings" else value


def _string(value: Any, limit: int, pattern: str | None, at: str) -> str:
    if not isinstance(value, str):
        raise BadMessage(f"{at}: must be a string")
    if len(value) > limit:
        raise BadMessage(f"{at}: {len(value)} characters, at most {limit}")
    if pattern is not None and not re.fullmatch(pattern, value):
        raise BadMessage(f"{at}: {cut(value, 60)!r} does not match {pattern}")
    return value


def parse(fields: tuple[Field, ...], data: object, where: str) -> dict[str, Any]:
    """The attributes of a message from its JSON object *data* (``where`` names it in errors).

    Raises:
        BadMessage: not an object, an unknown or missing member, or a bad value.
    """
    if not isinstance(data, Mapping):
        raise BadMessage(f"{where}: must be a JSON object")
    known = {f.key for f in fields}
    unknown = sorted(str(k) for k in data if k not in known)
    if unknown:
        raise BadMessage(f"{where}: unknown field {cut(unknown[0], 60)!r}")
    out: dict[str, Any] = {}
    for f in fields:
        if f.key not in data:
            if f.required:
                raise BadMessage(f"{where}: missing field {f.key!r}")
            out[f.attr] = None
            continue
        out[f.attr] = f.check(data[f.key], where)
    return out


def dump(fields: tuple[Field, ...], message: object) -> dict[str, Any]:
    """The JSON object of *message* (optional members left out when None)."""
    out: dict[str, Any] = {}
    for f in fields:
        value = getattr(message, f.attr)
        if value is None and not f.required:
            continue
        out[f.key] = f.dump(value)
    return out
