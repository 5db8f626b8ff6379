"""A scratch copy of an appliance home: ``stella plan`` imports and evaluates there, never in the real one.

The copy holds a consistent snapshot of the database (SQLite's online backup, read-only
on the real side, taken under the import lock so no import is half-way), the content
store as one symbolic link per blob (no bytes copied; an import into the copy renames its
new blobs next to the links, never through them), and the appliance key by a link (the
copy's import signs a record that is thrown away). Everything goes when the block ends.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from appliance import lock
from appliance.home import SUBDIRS, Home


def _copy_db(source: Path, target: Path) -> None:
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)   # read-only: never checkpoints
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


@contextmanager
def scratch(home: Home, wait: float = 0.0) -> Iterator[Home]:
    """A throw-away home with *home*'s state, removed afterwards.

    Raises:
        Locked: an import holds *home*'s lock for longer than *wait* seconds.
    """
    with tempfile.TemporaryDirectory(prefix="stella-plan-") as tmp:
        box = Home(Path(tmp) / "home")
        for sub in SUBDIRS:
            if sub != "keys":
                (box.root / sub).mkdir(parents=True, exist_ok=True)
        os.symlink(home.keys, box.keys)
        with lock.exclusive(home.lock_path, wait, "an import"):
            _copy_db(home.db_path, box.db_path)
            for blob in home.blobs.iterdir():
                os.symlink(blob, box.blobs / blob.name)
        yield box
