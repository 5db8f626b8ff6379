"""Imported kits, as ``stella kits`` and ``GET /api/v1/kits`` list them (newest first)."""

from __future__ import annotations

from typing import Any

import sqlite_utils

COLUMNS = ("kit_id", "name", "channel", "sequence", "kind", "base_kit_id", "created", "expires", "imported_at",
           "actor", "import_id", "forced", "reason", "entry_count", "total_size")


def listing(db: sqlite_utils.Database) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Every imported kit, newest first (``active``: the highest sequence on its channel),
    and the active sequence per channel."""
    rows = [dict(zip(COLUMNS, r)) for r in db.execute(
        f"SELECT {', '.join(COLUMNS)} FROM kits ORDER BY imported_at DESC, rowid DESC")]
    active = {c: s for c, s in db.execute("SELECT channel, max(sequence) FROM kits GROUP BY channel")}
    for row in rows:
        row["forced"] = bool(row["forced"])
        row["active"] = active.get(row["channel"]) == row["sequence"]
    return rows, active
