"""The appliance's advisory index: kit's ``AdvisoryIndex`` over SQLite.

One table, ``advisory_index``, one row per (ecosystem, normalized package name,
advisory id, source) holding the normalized advisory record as canonical JSON. The
primary key starts with (ecosystem, name), and the table is ``WITHOUT ROWID``, so the
primary key *is* the clustered index every lookup uses: findings come from indexed
lookups, never a scan. The table is created here (``CREATE … IF NOT EXISTS``) until
the appliance's migrations adopt it; docs/findings.md documents it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from functools import lru_cache

from kit.canonical import dumps
from kit.findings.advisory import Advisory, advisory_from_dict
from kit.findings.index import index_keys

SCHEMA = """
CREATE TABLE IF NOT EXISTS advisory_index (
    ecosystem   TEXT    NOT NULL,  -- purl type selecting the version rules: pypi, deb, apk, ...
    name        TEXT    NOT NULL,  -- normalized package name (kit.findings.names.normalize)
    advisory_id TEXT    NOT NULL,
    source      TEXT    NOT NULL,  -- where the record came from (feed / kit entry)
    modified    TEXT    NOT NULL,
    withdrawn   INTEGER NOT NULL,  -- 1 when the advisory is withdrawn: kept, never matched
    record      TEXT    NOT NULL,  -- canonical JSON of the normalized advisory record
    PRIMARY KEY (ecosystem, name, advisory_id, source)
) WITHOUT ROWID
"""
_LOOKUP = ("SELECT record FROM advisory_index WHERE ecosystem = ? AND name = ? "
           "AND withdrawn = 0 ORDER BY advisory_id, source")


class SqliteAdvisoryIndex:
    """``AdvisoryIndex`` over a sqlite3 connection; creates its table if missing."""

    def __init__(self, conn: sqlite3.Connection, cache_size: int = 4096) -> None:
        self.conn = conn
        self.conn.execute(SCHEMA)
        # Components of one image repeat package names (several versions, several
        # layers); a bounded cache keeps re-parsing the same records off the hot path.
        self._cached = lru_cache(maxsize=cache_size)(self._fetch)

    def add(self, advisories: Iterable[Advisory]) -> int:
        """Insert or replace *advisories* in one transaction; returns rows written."""
        rows = [(eco, name, a.id, a.source, a.modified, int(bool(a.withdrawn)),
                 dumps(a.to_dict()).decode("utf-8"))
                for a in advisories for eco, name in sorted(index_keys(a))]
        self.conn.execute("SAVEPOINT advisory_index_add")
        try:
            self.conn.executemany(
                "INSERT OR REPLACE INTO advisory_index VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        except BaseException:
            self.conn.execute("ROLLBACK TO advisory_index_add")
            self.conn.execute("RELEASE advisory_index_add")
            raise
        self.conn.execute("RELEASE advisory_index_add")
        self._cached.cache_clear()
        return len(rows)

    def _fetch(self, ecosystem: str, name: str) -> tuple[Advisory, ...]:
        # Records were written as canonical JSON by add(): plain json.loads (C speed) is enough.
        return tuple(advisory_from_dict(json.loads(row[0]))
                     for row in self.conn.execute(_LOOKUP, (ecosystem, name)))

    def lookup(self, ecosystem: str, name: str) -> tuple[Advisory, ...]:
        return self._cached(ecosystem, name)

    def count(self) -> int:
        return int(self.conn.execute("SELECT count(DISTINCT advisory_id || source) "
                                     "FROM advisory_index").fetchone()[0])
