"""SQLite through sqlite-utils: WAL, foreign keys, numbered migrations applied on open.

Migrations are the files ``appliance/store/migrations/NNNN_name.sql``; ``schema_migrations``
records which ran. Each migration runs in its own transaction, so a crash mid-upgrade
leaves the database at the previous version and the next open retries it.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from appliance.errors import DatabaseError
from appliance.store import guard
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
    return _configure(_raw(path, any_thread=any_thread))


def _raw(path: Path, *, any_thread: bool = False) -> sqlite_utils.Database:
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=30, check_same_thread=not any_thread)
    # no third-party sqlite-utils plugins on the appliance's database (and no entry-point scan
    # of every installed distribution at each start: ~15 ms)
    return sqlite_utils.Database(conn, execute_plugins=False)


def _configure(db: sqlite_utils.Database) -> sqlite_utils.Database:
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA foreign_keys=ON")
    return db


def open_db(path: Path, upto: int | None = None, *, create: bool = False) -> sqlite_utils.Database:
    """Open and bring the schema up to date.

    Only ``stella init`` may *create* the database: anywhere else a missing, empty or
    uninitialised ``stella.db`` in a home that holds its key is refused (it was lost or
    truncated; SQLite would silently start a new, empty one).

    Raises:
        DatabaseError: the database is newer than this code (downgrade refused).
        DamagedHome: the database is missing, empty, truncated or not a database.
        KitIOError: the database cannot be written (read-only or full file system).
    """
    if not create:
        guard.check_present(path)
    try:
        db = _raw(path)
        if not create:                      # before WAL mode is set: a refused file stays as it was
            try:
                guard.check_initialised(path, applied(db))
            except BaseException:
                db.close()
                raise
        _configure(db)
        migrate(db, upto)
    except sqlite3.DatabaseError as exc:
        raise guard.explain(path, exc) from None
    return db


def open_readonly(path: Path) -> sqlite_utils.Database:
    """Open for reading only, writing nothing (a read-only or full file system, a read-only mount).

    ``mode=ro`` first; where SQLite cannot even create its WAL index (a read-only file
    system), ``immutable=1``, which is safe there: nothing can change the file meanwhile.

    Raises:
        DamagedHome / KitIOError / DatabaseError: as :func:`open_db`.
    """
    guard.check_present(path)
    last: sqlite3.DatabaseError | None = None
    for query in ("mode=ro", "immutable=1"):
        try:
            conn = sqlite3.connect(f"{path.absolute().as_uri()}?{query}", uri=True, isolation_level=None, timeout=30)
            db = sqlite_utils.Database(conn, execute_plugins=False)
            known = applied(db)
        except sqlite3.DatabaseError as exc:
            last = exc
            continue
        guard.check_initialised(path, known)
        pending = [m for m in migrations() if m.version not in known]
        if pending:
            db.close()
            raise DatabaseError(f"{path} is at schema version {max(known)}; this stella needs "
                                f"{pending[-1].version:04d}: run a command that writes (e.g. stella status "
                                "on a writable home) to migrate it")
        return db
    assert last is not None
    raise guard.explain(path, last) from None


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
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            with contextlib.suppress(sqlite3.Error):      # a failed COMMIT or a full disk may have ended it
                db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    except sqlite3.OperationalError as exc:
        if not guard.is_io(exc):
            raise
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")
        raise guard.explain(_file_of(db), exc) from None
    for hook in AFTER_COMMIT:
        hook(db)


def _file_of(db: sqlite_utils.Database) -> Path:
    row = db.execute("PRAGMA database_list").fetchone()
    return Path(row[2]) if row and row[2] else Path("stella.db")


def file_of(db: sqlite_utils.Database) -> Path:
    """The file of *db*'s main database (the home is its folder)."""
    return _file_of(db)


# Called after each COMMIT of :func:`transaction` (the audit log writes its head file there).
AFTER_COMMIT: list[Callable[[sqlite_utils.Database], None]] = []
