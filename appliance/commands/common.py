"""What every ``stella`` subcommand shares: ``--home``, opening the store, recovery."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import click
import sqlite_utils

from appliance import lock
from appliance.home import Home, resolve_home
from appliance.importing.commit import recover
from appliance.store.db import open_db

F = TypeVar("F", bound=Callable[..., Any])


def home_option(func: F) -> F:
    return click.option("--home", "home", type=click.Path(file_okay=False), default=None,
                        help="Appliance home (default: $STELLA_HOME, else /var/lib/stella).")(func)


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(func)


@contextlib.contextmanager
def opened(home_arg: str | None) -> Iterator[tuple[Home, sqlite_utils.Database]]:
    """The initialised home and its migrated database; finishes an interrupted import
    first when no import is running (the lock is free)."""
    home = resolve_home(home_arg).require()
    db = open_db(home.db_path)
    try:
        fd = lock.try_lock(home.lock_path)
        if fd is not None:
            try:
                recover(home, db)
            finally:
                os.close(fd)
        yield home, db
    finally:
        db.close()
