"""Per-target rollouts in SQLite (``target_rollouts``) and lock files in the content store.

A target's *current* release is its latest rollout in state ``deployed``; the previous
lock file a failed deploy goes back to is that same row, so a failed deploy that was
rolled back never changes what a target is said to run.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from appliance.home import Home
from appliance.store.db import transaction
from kit import canonical
from kit.timeutil import format_time, now


@dataclass(frozen=True)
class Rollout:
    deployment_id: str
    target: str
    state: str
    lock_sha256: str
    lock_text: str
    sticker: str | None
    started_at: str
    finished_at: str | None
    detail: dict[str, Any]
    release: str = ""
    environment: str = ""
    promotion_id: str = ""

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Rollout:
        """From a row of ``_COLS``: the appliance's own tables (``detail`` is canonical JSON it wrote)."""
        return cls(deployment_id=row[0], target=row[1], state=row[2], lock_sha256=row[3], lock_text=row[4],
                   sticker=row[5], started_at=row[6], finished_at=row[7], detail=json.loads(row[8]),
                   release=row[9], environment=row[10], promotion_id=row[11])


_COLS = ("r.deployment_id, r.target, r.state, r.lock_sha256, r.lock_text, r.sticker, r.started_at, r.finished_at, "
         "r.detail, d.release, d.environment, d.promotion_id")


def store_blob(home: Home, data: bytes) -> str:
    """Put *data* in the content store (write, fsync, rename); returns its hex digest."""
    hexd = hashlib.sha256(data).hexdigest()
    path = home.blobs / hexd
    if not path.is_file():
        tmp = path.with_name(f".{hexd}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    return hexd


def begin(db: sqlite_utils.Database, deployment_id: str, target: str, lock: bytes, lock_hex: str) -> None:
    with transaction(db):
        db.execute("INSERT INTO target_rollouts VALUES (?, ?, 'deploying', ?, ?, NULL, ?, NULL, '{}')",
                   [deployment_id, target, lock_hex, lock.decode("utf-8"), format_time(now())])


def finish(db: sqlite_utils.Database, deployment_id: str, target: str, state: str, detail: dict[str, Any],
           sticker: bytes | None = None) -> None:
    with transaction(db):
        db.execute("UPDATE target_rollouts SET state = ?, finished_at = ?, detail = ?, sticker = COALESCE(?, sticker) "
                   "WHERE deployment_id = ? AND target = ?",
                   [state, format_time(now()), canonical.dumps(detail).decode(),
                    sticker.decode() if sticker else None, deployment_id, target])


def of_deployment(db: sqlite_utils.Database, deployment_id: str) -> list[Rollout]:
    rows = db.execute(f"SELECT {_COLS} FROM target_rollouts r JOIN deployments d ON d.id = r.deployment_id "
                      "WHERE r.deployment_id = ? ORDER BY r.target", [deployment_id])
    return [Rollout.from_row(r) for r in rows]


def current(db: sqlite_utils.Database, target: str, exclude: str | None = None) -> Rollout | None:
    """The target's latest deployed rollout (other than *exclude*)."""
    row = db.execute(f"SELECT {_COLS} FROM target_rollouts r JOIN deployments d ON d.id = r.deployment_id "
                     "WHERE r.target = ? AND r.state = 'deployed' AND r.deployment_id != ? "
                     "ORDER BY r.finished_at DESC, r.deployment_id DESC LIMIT 1", [target, exclude or ""]).fetchone()
    return Rollout.from_row(row) if row else None


def orphans(db: sqlite_utils.Database) -> list[str]:
    """Deployments still ``deploying`` (the caller holds the deploy lock, so nobody owns them);
    manual ones (``promotion mark-deployed``) finish in the same command and are skipped."""
    rows = db.execute("SELECT id, detail FROM deployments WHERE state = 'deploying' ORDER BY id")
    return [r[0] for r in rows if not json.loads(r[1]).get("manual")]
