"""SQLite through sqlite-utils: WAL, foreign keys, numbered migrations applied on open.

Migrations are the files ``appliance/store/migrations/NNNN_name.sql``; ``schema_migrations``
records which ran. Each migration runs in its own transaction, so a crash mid-upgrade
leaves the database at the previous version and the next open retries it.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from appliance.errors import DatabaseError
from kit.timeutil import format_time, now

MIGRATIONS = Path(__file__).with_name("migrations")
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path


def migrations(upto: int | None = None) -> list[Migration]:
    """The migrations shipped with this code, in order (up to *upto* for tests)."""
    found = []
    for path in sorted(MIGRATIONS.iterdir()):
        match = _NAME.match(path.name)
        if match:
            found.append(Migration(int(match[1]), match[2], path))
    return [m for m in found if upto is None or m.version <= upto]


def connect(path: Path, *, any_thread: bool = False) -> sqlite_utils.Database:
    """Open without migrating: WAL, FULL sync (a commit survives power loss), FKs on.

    *any_thread*: the service opens one connection per request and its framework may run
    the request's parts on different worker threads (never two at once).
    """
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=30, check_same_thread=not any_thread)
    # no third-party sqlite-utils plugins on the appliance's database (and no entry-point scan
    # of every installed distribution at each start: ~15 ms)
    db = sqlite_utils.Database(conn, execute_plugins=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA foreign_keys=ON")
    return db


def open_db(path: Path, upto: int | None = None) -> sqlite_utils.Database:
    """Open and bring the schema up to date.

    Raises:
        DatabaseError: the database is newer than this code (downgrade refused).
    """
    db = connect(path)
    migrate(db, upto)
    return db


def applied(db: sqlite_utils.Database) -> set[int]:
    if "schema_migrations" not in db.table_names():
        return set()
    return {row[0] for row in db.execute("SELECT version FROM schema_migrations")}


def migrate(db: sqlite_utils.Database, upto: int | None = None) -> list[int]:
    """Apply missing migrations; returns the versions applied now."""
    db.execute("CREATE TABLE IF NOT EXISTS schema_migrations "
               "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)")
    known = applied(db)
    shipped = migrations()
    if known and max(known) > max(m.version for m in shipped):
        raise DatabaseError(f"the database schema (version {max(known)}) is newer than this stella "
                            f"(knows up to {max(m.version for m in shipped)}); upgrade stella")
    done = []
    for mig in migrations(upto):
        if mig.version in known:
            continue
        try:
            with transaction(db):
                if mig.version in applied(db):      # another process migrated meanwhile
                    continue
                for statement in _statements(mig.path.read_text()):
                    db.execute(statement)
                db.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)",
                           [mig.version, mig.name, format_time(now())])
        except sqlite3.Error as exc:
            raise DatabaseError(f"database migration {mig.version:04d}_{mig.name} failed: {exc}; "
                                "the database is unchanged at the previous version") from None
        done.append(mig.version)
    return done


def _statements(script: str) -> list[str]:
    """Split a migration script on ';' at line ends (no triggers with bodies here)."""
    lines = [ln for ln in script.splitlines() if not ln.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";\n") if s.strip().rstrip(";").strip()]


@contextlib.contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """BEGIN IMMEDIATE … COMMIT; rolled back on any exception (or by SQLite after a crash)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
