"""The appliance defends its own database: a lost, emptied or truncated ``stella.db`` in a
home that holds its key is refused (never silently re-created empty), and SQLite's I/O
failures become errors that name the file (a read-only or full file system: ``io-error``).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from appliance.errors import DamagedHome
from kit.errors import KitIOError, StellaError

_RESTORE = "restore stella.db from a backup; the appliance will not start a new, empty one over its records"


def _evidence(home: Path) -> str | None:
    """What in *home* shows it was initialised (its key, import records, trust history), or None."""
    if not (home / "keys" / "key.pem").is_file():
        return None
    try:
        records = sum(1 for p in (home / "records").iterdir() if p.name.endswith(".dsse.json"))
    except OSError:
        records = 0
    return f"the home holds its key{f' and {records} signed import records' if records else ''}"


def check_present(path: Path) -> None:
    """Raise DamagedHome when *path* is missing or empty while its home was initialised."""
    evidence = _evidence(path.parent)
    if evidence is None:
        return
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise DamagedHome(f"{path} is missing but {evidence}: {_RESTORE}") from None
    except OSError as exc:
        raise KitIOError(f"cannot read {path}: {exc.strerror}") from None
    if size == 0:
        raise DamagedHome(f"{path} is empty (0 bytes) but {evidence}: {_RESTORE}")


def check_initialised(path: Path, migrations_applied: set[int]) -> None:
    """Raise DamagedHome when the database holds no schema while its home was initialised."""
    if migrations_applied:
        return
    evidence = _evidence(path.parent)
    if evidence is not None:
        raise DamagedHome(f"{path} has lost its initialisation (no schema) but {evidence}: {_RESTORE}")


def read_only(path: Path) -> bool:
    try:
        return bool(os.statvfs(path.parent).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def full(path: Path) -> bool:
    """Whether the file system holding *path* has no block left for this user."""
    try:
        return os.statvfs(path.parent).f_bavail == 0
    except OSError:
        return False


def is_io(exc: sqlite3.Error) -> bool:
    """Whether *exc* is SQLite failing to read or write the file (not a bad statement)."""
    text = str(exc).lower()
    return any(s in text for s in ("readonly", "read-only", "unable to open", "disk is full", "disk i/o",
                                   "not a database", "malformed", "locking protocol"))


def explain(path: Path, exc: sqlite3.Error) -> StellaError:
    """The error to report for SQLite's *exc* on *path*: damaged, read-only, full, or unreadable."""
    text = str(exc)
    lower = text.lower()
    if "not a database" in lower or "malformed" in lower:
        return DamagedHome(f"{path} is damaged ({text}): {_RESTORE}")
    if read_only(path):
        return KitIOError(f"cannot write {path}: read-only file system (commands that only read work: "
                          "stella kits, status, audit verify, trust show)")
    if "disk is full" in lower or full(path):
        return KitIOError(f"cannot write {path}: no space left on the device (commands that only read work: "
                          "stella kits, status, audit verify, trust show)")
    return KitIOError(f"cannot use {path}: {text}")
