"""Header blobs of an ``rpmdb.sqlite`` (rpm 4.16 and later: RHEL 9, Fedora 33+).

The ``Packages`` table holds one header blob per row (``hnum``, ``blob``). The bytes are
written to a private temporary directory (with the ``-wal`` file when the image has a
non-empty one, so committed transactions still in the log are seen) and read there by
SQLite itself. The file is untrusted: ``Packages`` must be a plain table (a view could
run any query), the schema's functions are not trusted, and a progress handler stops a
statement that runs too long.
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

from bundler.sbom.rpmdb.header import RpmdbError

MAGIC = b"SQLite format 3\0"
MAX_STEPS = 2_000                  # progress-handler calls (each 100,000 VM steps)


def blobs(data: bytes, wal: bytes | None = None) -> list[bytes]:
    """Every header blob, by ``hnum``.

    Raises:
        RpmdbError: SQLite cannot read the file, it has no ``Packages`` table, or a
            statement ran too long.
    """
    if not data.startswith(MAGIC):
        raise RpmdbError("not an SQLite database (no 'SQLite format 3' magic)")
    with tempfile.TemporaryDirectory(prefix="stella-rpmdb-") as tmp:
        path = Path(tmp) / "rpmdb.sqlite"
        path.write_bytes(data)
        if wal:
            path.with_name("rpmdb.sqlite-wal").write_bytes(wal)
        try:
            return _read(path)
        except sqlite3.Error as exc:
            raise RpmdbError(f"SQLite cannot read it: {exc}") from None


def _read(path: Path) -> list[bytes]:
    steps = 0

    def progress() -> int:
        nonlocal steps
        steps += 1
        return 1 if steps > MAX_STEPS else 0

    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.set_progress_handler(progress, 100_000)
        conn.execute("PRAGMA trusted_schema = OFF")
        conn.execute("PRAGMA cell_size_check = ON")
        conn.execute("PRAGMA query_only = ON")
        kind = conn.execute("SELECT type FROM sqlite_master WHERE name = 'Packages'").fetchone()
        if kind is None or kind[0] != "table":
            raise RpmdbError("no Packages table")
        out = []
        for _hnum, blob in conn.execute("SELECT hnum, blob FROM Packages ORDER BY hnum"):
            if not isinstance(blob, bytes):
                raise RpmdbError(f"Packages row {_hnum}: the blob is {type(blob).__name__}")
            out.append(blob)
        return out
    finally:
        conn.close()
