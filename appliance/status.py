"""``stella status``: staleness of advisories per source, last import, active kits, disk use."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import sqlite_utils

from appliance.home import Home
from kit.timeutil import parse_time


def _du(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def advisory_sources(db: sqlite_utils.Database, at: dt.datetime) -> list[dict[str, Any]]:
    """Per advisory source, the newest snapshot imported and how old it is.

    Kits built by the bundler name each source and its snapshot time in
    ``advisories/sources.json`` (table advisory_snapshots); advisory files carried
    without it are grouped by folder and dated by the kit that carried them.
    """
    rows = db.execute("SELECT s.source, s.snapshot, max(s.records) FROM advisory_snapshots s WHERE s.snapshot = "
                      "(SELECT max(snapshot) FROM advisory_snapshots WHERE source = s.source) "
                      "GROUP BY s.source").fetchall()
    named = {source for source, _, _ in rows}
    legacy = [r for r in db.execute("SELECT source, max(published), count(DISTINCT sha256) FROM advisories "
                                    "WHERE path NOT IN ('advisories/records.ndjson', 'advisories/sources.json') "
                                    "GROUP BY source").fetchall() if r[0] not in named]
    out = [{"source": source, "newest": newest, "documents": count, "ageDays": (at - parse_time(newest)).days}
           for source, newest, count in [*rows, *legacy]]
    return sorted(out, key=lambda a: a["source"])


def summary(home: Home, db: sqlite_utils.Database, at: dt.datetime) -> dict[str, Any]:
    last = db.execute("SELECT kit_id, name, channel, sequence, imported_at, actor FROM kits "
                      "ORDER BY imported_at DESC, rowid DESC LIMIT 1").fetchone()
    channels = db.execute("SELECT channel, max(sequence), count(*) FROM kits GROUP BY channel ORDER BY channel")
    root = db.execute("SELECT version, digest, expires FROM trust_roots ORDER BY version DESC LIMIT 1").fetchone()
    blobs = db.execute("SELECT count(*), coalesce(sum(size), 0) FROM blobs").fetchone()
    return {
        "home": str(home.root),
        "lastImport": (dict(zip(("kitId", "name", "channel", "sequence", "importedAt", "actor"), last))
                       if last else None),
        "channels": [{"channel": c, "activeSequence": s, "kits": n} for c, s, n in channels],
        "advisories": advisory_sources(db, at),
        "trustRoot": dict(zip(("version", "digest", "expires"), root)) if root else None,
        "contentStore": {"blobs": blobs[0], "bytes": blobs[1]},
        "disk": {"total": _du(home.root), "blobs": _du(home.blobs), "database": _du(home.db_path.parent / "stella.db")
                 + _du_wal(home), "quarantine": _du(home.quarantine), "registry": _du(home.registry),
                 "staging": _du(home.staging)},
        "quarantined": sum(1 for p in home.quarantine.iterdir() if p.is_dir()) if home.quarantine.is_dir() else 0,
        "failingDeployed": _failing_deployed(db),
        "unfinishedDeployments": _unfinished(home, db),
    }


def _du_wal(home: Home) -> int:
    return sum(p.stat().st_size for p in home.root.glob("stella.db-*") if p.is_file())


def _unfinished(home: Home, db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Deployments still ``deploying``: running now, or orphaned by a process that died."""
    from appliance.deploy.unfinished import find

    return [u.to_dict() for u in find(home, db)]


def _failing_deployed(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Deployed releases that fail the policy gate now (after stella reevaluate)."""
    from appliance.promotions.reevaluate import flagged

    return flagged(db)
