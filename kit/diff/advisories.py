"""Advisory records compared by id: one merge pass over two sorted NDJSON streams.

``advisories/records.ndjson`` is sorted by id (docs/advisories.md), so two of them are
compared line by line in bounded memory whatever their size: added, changed (with the
fields that differ) and withdrawn (gone from the new kit, or ``withdrawn`` newly set).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

from kit.errors import SchemaError

RECORDS = "advisories/records.ndjson"
MAX_LINE = 16 << 20


def _records(fh: IO[bytes] | None, label: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if fh is None:
        return
    previous: str | None = None
    for number, line in enumerate(iter(lambda: fh.readline(MAX_LINE + 1), b""), start=1):
        if len(line) > MAX_LINE:
            raise SchemaError(f"{label} {RECORDS} line {number}: a record over {MAX_LINE} bytes")
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise SchemaError(f"{label} {RECORDS} line {number}: not JSON ({exc})") from None
        ident = record.get("id") if isinstance(record, dict) else None
        if not isinstance(ident, str):
            raise SchemaError(f"{label} {RECORDS} line {number}: a record without an id")
        if previous is not None and ident.encode() <= previous.encode():
            raise SchemaError(f"{label} {RECORDS} line {number}: records are not sorted by id at {ident!r}")
        previous = ident
        yield ident, record


def _fields(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))


def compare(old: IO[bytes] | None, new: IO[bytes] | None, old_label: str = "old",
            new_label: str = "new") -> dict[str, list[Any]]:
    """``{"added": [id], "changed": [{"id", "fields"}], "withdrawn": [{"id", "how"}]}``.

    Raises:
        SchemaError: a line is not a JSON record with an id, or the ids are not sorted.
    """
    added: list[str] = []
    changed: list[dict[str, Any]] = []
    withdrawn: list[dict[str, str]] = []
    a, b = _records(old, old_label), _records(new, new_label)
    x, y = next(a, None), next(b, None)
    while x is not None or y is not None:
        if y is None or (x is not None and x[0].encode() < y[0].encode()):
            assert x is not None
            withdrawn.append({"id": x[0], "how": "removed"})
            x = next(a, None)
        elif x is None or y[0].encode() < x[0].encode():
            added.append(y[0])
            y = next(b, None)
        else:
            if x[1] != y[1]:
                changed.append({"id": y[0], "fields": _fields(x[1], y[1])})
                if not x[1].get("withdrawn") and y[1].get("withdrawn"):
                    withdrawn.append({"id": y[0], "how": f"withdrawn {y[1]['withdrawn']}"})
            x, y = next(a, None), next(b, None)
    return {"added": added, "changed": changed, "withdrawn": withdrawn}
