"""Commit an import in one transaction, then move its staged files into place.

Protocol (why a crash at any point leaves "before" or "after", never a mix):
  1. blobs and the signed record are written and fsync'd under ``staging/<import-id>/``;
  2. ONE transaction inserts the kit (with its import id), entries, blobs, derived rows,
     the import record and the audit event — the commit is the moment of truth;
  3. staged files are renamed into ``blobs/sha256/`` and ``records/`` (same filesystem,
     atomic), directories fsync'd, the staging folder removed.
:func:`recover` runs before every import (and on other commands when no import is
running): a staging folder whose import id is in ``kits`` committed, so step 3 is
finished; any other staging folder is an import that never committed and is deleted.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from appliance import audit, testhooks
from appliance.home import Home, fsync_dir
from appliance.importing import advisories
from appliance.importing.derive import Derived
from appliance.importing.staging import RECORD_FILE
from appliance.store.db import transaction
from kit.format.manifest import Entry, Manifest
from kit.timeutil import format_time


@dataclass(frozen=True)
class KitRow:
    manifest: Manifest
    envelope: bytes
    import_id: str
    imported_at: str
    actor: str
    forced: bool
    reason: str | None
    file_size: int

    @property
    def id(self) -> str:
        return self.manifest.kit_id


def _kit_values(k: KitRow) -> dict[str, Any]:
    m = k.manifest
    return {"kit_id": k.id, "name": m.name, "channel": m.channel, "sequence": m.sequence, "kind": m.kind,
            "base_kit_id": m.base["kitId"] if m.base else None, "created": format_time(m.created),
            "expires": format_time(m.expires), "imported_at": k.imported_at, "actor": k.actor,
            "import_id": k.import_id, "forced": int(k.forced), "reason": k.reason, "file_size": k.file_size,
            "entry_count": len(m.entries) + len(m.inherited), "total_size": m.total_size,
            "manifest": m.to_bytes().decode("utf-8"), "envelope": k.envelope}


def _insert(db: sqlite_utils.Database, table: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    cols = list(rows[0])
    sql = f"INSERT OR IGNORE INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    db.conn.executemany(sql, [[r[c] for c in cols] for r in rows])


def commit(db: sqlite_utils.Database, kit: KitRow, staged: dict[str, int], derived: Derived,
           record: dict[str, Any], audit_details: dict[str, Any],
           also: Callable[[sqlite_utils.Database], dict[str, Any]] | None = None) -> audit.Event:
    """Record everything about one import in one transaction.

    *also* runs inside it, before the ``kit.import`` event, and returns details for that
    event (the workflow templates the kit assigns: importing/workflows.py).
    """
    m = kit.manifest
    kit_id = kit.id
    entries: list[tuple[Entry, int]] = [(e, 1) for e in m.entries] + [(e, 0) for e in m.inherited]
    with transaction(db):
        _insert(db, "kits", [_kit_values(kit)])
        _insert(db, "blobs", [{"sha256": h, "size": size, "first_kit_id": kit_id, "added_at": kit.imported_at}
                              for h, size in sorted(staged.items())])
        _insert(db, "kit_entries", [{"kit_id": kit_id, "path": e.path, "media_type": e.media_type,
                                     "size": e.size, "sha256": e.sha256, "carried": c} for e, c in entries])
        for table, rows in derived.tables():
            if table == "components":      # per SBOM content: another kit may have listed them
                known = {r[0] for r in db.execute("SELECT DISTINCT sbom_sha256 FROM components")}
                rows = [r for r in rows if r["sbom_sha256"] not in known]
            _insert(db, table, rows)
        advisories.store(db, derived.advisory_index)
        _insert(db, "import_records", [record])
        extra = also(db) if also is not None else {}
        event = audit.append(db, kit.actor, "kit.import", {**audit_details, **extra}, kit.imported_at)
        testhooks.pause("in-transaction")
    testhooks.pause("committed")
    return event


def finish(home: Home, staging_dir: Path) -> None:
    """Move a committed import's staged files into place (idempotent), then drop staging."""
    blob_dir = staging_dir / "blobs"
    moved = 0
    if blob_dir.is_dir():
        for staged in sorted(blob_dir.iterdir()):
            target = home.blobs / staged.name
            if target.exists():
                staged.unlink()           # already moved by an earlier, interrupted finish
            else:
                os.rename(staged, target)
            moved += 1
            testhooks.pause(f"renamed:{moved}")
        fsync_dir(home.blobs)
    record = staging_dir / RECORD_FILE
    if record.exists():
        os.rename(record, home.records / f"{staging_dir.name}.dsse.json")
        fsync_dir(home.records)
    testhooks.pause("moved")
    shutil.rmtree(staging_dir)
    fsync_dir(home.staging)


def recover(home: Home, db: sqlite_utils.Database) -> list[str]:
    """Finish committed imports and delete abandoned ones; call with the import lock held.

    Returns the import ids that were finished or cleaned (for a message).
    """
    done: list[str] = []
    if not home.staging.is_dir():
        return done
    for staging_dir in sorted(home.staging.iterdir()):
        if not staging_dir.is_dir():
            staging_dir.unlink()
            continue
        committed = db.execute("SELECT 1 FROM kits WHERE import_id = ?", [staging_dir.name]).fetchone()
        if committed:
            finish(home, staging_dir)
        else:
            shutil.rmtree(staging_dir)
            fsync_dir(home.staging)
        done.append(staging_dir.name)
    return done
