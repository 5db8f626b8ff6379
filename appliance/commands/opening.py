"""Opening the appliance for a command: the home, its database, and what a dead process left.

An interrupted import is finished or deleted first; a deployment whose process died is
reported on stderr.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import click
import sqlite_utils

from appliance import lock
from appliance.home import Home, resolve_home
from appliance.store.db import open_db, open_readonly
from kit.errors import KitIOError


def _interrupted_import(home: Home) -> bool:
    """Anything in staging for the import recovery to finish or delete (it does nothing otherwise)."""
    try:
        return any(True for _ in home.staging.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return False


@contextlib.contextmanager
def opened(home_arg: str | None, notice_deploys: bool = True,
           read_only: bool = False) -> Iterator[tuple[Home, sqlite_utils.Database]]:
    """The initialised home and its migrated database; finishes an interrupted import
    first when no import is running (the lock is free), and warns on stderr about a
    deployment whose process died (*notice_deploys*: off for the commands that finish it
    themselves).

    *read_only* (``kits``, ``status``, ``audit verify``, ``trust show``): where the home
    cannot be written (a read-only or full file system) the database is opened for reading
    only and nothing is recovered or migrated, so the commands that only look still work.
    """
    home = resolve_home(home_arg).require()
    writable = True
    try:
        db = open_db(home.db_path)
    except KitIOError:
        if not read_only:
            raise
        db, writable = open_readonly(home.db_path), False
    try:
        if writable and _interrupted_import(home):
            fd = lock.try_lock(home.lock_path)
            if fd is not None:
                try:
                    from appliance.importing.commit import recover  # the import pipeline: only when needed
                    recover(home, db)
                finally:
                    os.close(fd)
        if notice_deploys:
            _notice_unfinished(home, db)
        yield home, db
    finally:
        db.close()


def _notice_unfinished(home: Home, db: sqlite_utils.Database) -> None:
    from appliance.deploy.unfinished import orphaned
    for u in orphaned(home, db):
        click.echo(f"stella: warning: {u.warning()}", err=True)
