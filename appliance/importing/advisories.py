"""Index the advisories a kit carries: ``advisories/records.ndjson`` → ``advisory_index``.

Each line is one normalized record in canonical JSON (docs/advisories.md); it is stored
as-is under every (purl type, normalized name) it affects, the key
``appliance.findings_index.SqliteAdvisoryIndex`` looks up. Parsing happens while rows are
derived (before the import transaction); :func:`store` runs inside it. A newer kit's
record replaces an older one with the same key only when its ``modified`` is not older,
so a forced import of an old kit cannot roll advisories back. ``advisories/sources.json``
gives each source's snapshot time (staleness budgets in the policy gate).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import sqlite_utils

from kit.format.manifest import Entry

RECORDS = "advisories/records.ndjson"
SOURCES = "advisories/sources.json"
_UPSERT = ("INSERT INTO advisory_index VALUES (?, ?, ?, ?, ?, ?, ?) "
           "ON CONFLICT (ecosystem, name, advisory_id, source) DO UPDATE SET modified = excluded.modified, "
           "withdrawn = excluded.withdrawn, record = excluded.record WHERE excluded.modified >= modified")

# (ecosystem, name, advisory id, source, modified, withdrawn 0/1, record line): one advisory_index row
IndexRow = tuple[str, str, str, str, str, int, str]


class AdvisoryRows(Protocol):
    """Where :func:`derive_advisories` puts its rows (``importing.derive.Derived``, which imports this module)."""

    advisory_index: list[IndexRow]
    advisory_snapshots: list[dict[str, Any]]


def index_rows(path: Path) -> list[IndexRow]:
    """Rows for ``advisory_index`` from a records.ndjson file; unusable lines are skipped
    (the kit verified: the bundler already normalized every record)."""
    rows: list[IndexRow] = []
    with open(path, "rb") as fh:
        for line in fh:
            text = line.decode("utf-8").rstrip("\n")
            try:
                rec = json.loads(text)
                keys = {(a["purl_type"], a["normalized_name"]) for a in rec["affected"]}
                ident, source, modified = rec["id"], rec["source"], rec["modified"]
                withdrawn = int(bool(rec.get("withdrawn")))
            except (ValueError, KeyError, TypeError):
                continue
            rows.extend((eco, name, ident, source, modified, withdrawn, text) for eco, name in sorted(keys))
    return rows


def snapshot_rows(kit_id: str, path: Path) -> list[dict[str, Any]]:
    try:
        doc = json.loads(path.read_bytes())
        return [{"kit_id": kit_id, "source": s["name"], "snapshot": s["snapshot"], "records": int(s["records"])}
                for s in doc["sources"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def derive_advisories(kit_id: str, entry: Entry, locate: Callable[[str], Path], out: AdvisoryRows) -> None:
    """Fill ``out.advisory_index`` / ``out.advisory_snapshots`` from one kit entry."""
    if entry.path == RECORDS:
        out.advisory_index.extend(index_rows(locate(entry.sha256)))
    elif entry.path == SOURCES:
        out.advisory_snapshots.extend(snapshot_rows(kit_id, locate(entry.sha256)))


def store(db: sqlite_utils.Database, rows: list[IndexRow]) -> None:
    """Upsert index rows; call inside the import transaction."""
    if rows:
        db.conn.executemany(_UPSERT, rows)
