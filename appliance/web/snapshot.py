"""Reads that answer from memory while the database has not changed: the console's hot path.

A busy console is read far more often than it is written: fifty people watching the
pipeline page re-render the same rows from the same database state. The service keeps one
read connection used only on the event loop's thread, and memoises a read's result under a
key with the database's ``PRAGMA data_version`` at the time it was computed. SQLite changes
that number on this connection whenever *any other* connection — a request of this service,
the job worker, a ``stella`` command in another process — commits, so a memoised result is
never older than the last commit. A time to live bounds what depends on the clock alone
("3 min ago", an active freeze window).

Only short, indexed reads belong here (they run on the event loop, between requests);
anything that writes, calls Docker, or runs for long stays on the thread pool.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlite_utils

from appliance.store.db import connect

T = TypeVar("T")
TTL = 1.0            # seconds a result may serve while nothing was committed
CAPACITY = 512       # results kept (least recently used go first): a few MB of pages at most


@dataclass
class _Entry:
    version: int
    at: float
    value: Any


class Snapshot:
    """Memoised reads over one read connection; use from the event loop's thread only."""

    def __init__(self, db_path: Path, *, ttl: float = TTL, capacity: int = CAPACITY) -> None:
        self._path, self.ttl, self.capacity = db_path, ttl, capacity
        self._db: sqlite_utils.Database | None = None
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()

    @property
    def db(self) -> sqlite_utils.Database:
        if self._db is None:
            self._db = connect(self._path, any_thread=True)
        return self._db

    def version(self) -> int:
        """The database's change counter as this connection sees it (any other connection's commit moves it)."""
        row = self.db.conn.execute("PRAGMA data_version").fetchone()
        return int(row[0])

    def read(self, key: Hashable, compute: Callable[[sqlite_utils.Database], T]) -> T:
        """*compute*'s result for *key*: from memory when nothing was committed since and it is
        younger than the TTL, else computed now on the read connection (an exception is not kept)."""
        version, at = self.version(), time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and entry.version == version and at - entry.at < self.ttl:
            self._entries.move_to_end(key)
            found: T = entry.value
            return found
        value = compute(self.db)
        self._entries[key] = _Entry(version, at, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
        return value

    def close(self) -> None:
        self._entries.clear()
        if self._db is not None:
            self._db.close()
            self._db = None
