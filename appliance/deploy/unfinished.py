"""Deployments left ``deploying``: noticed by every command, shown by ``stella status``.

A deployment row ``deploying`` belongs to the process holding ``deploy.lock`` (flock,
the file holds its pid). When nobody holds the lock, its process died (kill -9, power
loss): every ``stella`` command that opens the home warns on stderr, and ``stella
status`` lists it, until ``stella deploy --resume`` (or the next deploy, rollback,
whereis or drift) finishes or rolls it back. Noticing never runs Compose: only the
deploy-family commands touch targets.

Cheap on purpose (it runs at every command): one indexed query, and the lock is probed
only when a row is ``deploying``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from appliance import lock
from appliance.home import Home


@dataclass(frozen=True)
class Unfinished:
    deployment: str
    promotion: str
    release: str
    environment: str
    deployer: str
    started_at: str
    owner_alive: bool                  # a process holds deploy.lock: it is still running
    pid: str | None                    # the pid written in deploy.lock (the live owner, or the dead one)

    @classmethod
    def from_row(cls, row: tuple[Any, ...], *, owner_alive: bool, pid: str | None) -> Unfinished:
        """From a ``find`` row (id, promotion_id, release, environment, deployer, started_at, …):
        the appliance's own table, whose columns are NOT NULL text."""
        return cls(deployment=row[0], promotion=row[1], release=row[2], environment=row[3], deployer=row[4],
                   started_at=row[5], owner_alive=owner_alive, pid=pid)

    def to_dict(self) -> dict[str, Any]:
        return {"deployment": self.deployment, "promotion": self.promotion, "release": self.release,
                "environment": self.environment, "deployer": self.deployer, "startedAt": self.started_at,
                "ownerAlive": self.owner_alive, "pid": self.pid,
                "state": "running" if self.owner_alive else "orphaned"}

    def warning(self) -> str:
        who = f" (pid {self.pid})" if self.pid else ""
        return (f"deployment {self.deployment} of {self.release} to {self.environment} ({self.promotion}) "
                f"was left unfinished: the process running it{who} is gone; "
                f"run `stella deploy --resume` to finish it or roll it back")


def _holder_pid(path: os.PathLike[str]) -> str | None:
    try:
        with open(path, "rb") as fh:
            text = fh.read(32).decode("ascii", "replace").strip()
    except OSError:
        return None
    return text or None


def find(home: Home, db: sqlite_utils.Database) -> list[Unfinished]:
    """Every non-manual deployment still ``deploying``, with whether its owner still runs."""
    rows = db.execute("SELECT id, promotion_id, release, environment, deployer, started_at, detail "
                      "FROM deployments WHERE state = 'deploying' ORDER BY id").fetchall()
    rows = [r for r in rows if not json.loads(r[6] or "{}").get("manual")]
    if not rows:
        return []
    path = home.root / "deploy.lock"
    alive = True
    if not path.exists():
        alive = False
    else:
        fd = lock.try_lock(path)
        if fd is not None:             # nobody holds it: the owner died (we only probed; release at once)
            alive = False
            os.close(fd)
    pid = _holder_pid(path)
    return [Unfinished.from_row(r, owner_alive=alive, pid=pid) for r in rows]


def orphaned(home: Home, db: sqlite_utils.Database) -> list[Unfinished]:
    return [u for u in find(home, db) if not u.owner_alive]
