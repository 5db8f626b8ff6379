"""The service's run waker: workflow runs advance while ``stella serve`` runs.

At start it advances every unfinished run once (what ``stella run resume --no-wait`` does:
a run the last process left mid-step is re-attached, inspected or re-run by its step
type's rule); then, every ``STELLA_RUN_POLL`` seconds (default 2), it advances the runs
whose ``wake_at`` is due (a soak that ended, a retry's back-off). Each advance is
``block=False``: it never sleeps through a wait, it records when to look again.

It runs on a thread of its own with its own database connection, so the event loop never
waits for it; requests may advance the same run at the same time (a resume, an approval):
the engine's claims and leases decide which process starts an attempt (appliance/runs).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Callable

import sqlite_utils

from appliance.home import Home
from appliance.runs import engine, store
from appliance.store.db import connect
from kit.timeutil import format_time, now

log = logging.getLogger("stella.runs")

ACTOR = "stella-serve"          # who the audit log names for what the service advanced by itself
DEFAULT_POLL = 2.0


def poll_seconds() -> float:
    try:
        return max(0.1, float(os.environ.get("STELLA_RUN_POLL") or DEFAULT_POLL))
    except ValueError:
        return DEFAULT_POLL


def due(db: sqlite_utils.Database) -> list[str]:
    """Unfinished runs whose wake-up time has come, oldest wake-up first."""
    rows = db.execute("SELECT id FROM runs WHERE state = 'running' AND wake_at IS NOT NULL AND wake_at <= ? "
                      "ORDER BY wake_at, id", [format_time(now())])
    return [r[0] for r in rows]


def advance_each(home: Home, db: sqlite_utils.Database, run_ids: list[str]) -> list[str]:
    """Advance each run once (``engine.resume_all``'s loop, but one run's refusal or crash
    does not keep the others waiting); returns the ids that could not be advanced."""
    failed = []
    for run_id in run_ids:
        try:
            engine.advance(home, db, run_id, engine.Advance(ACTOR, block=False))
        except Exception:
            log.exception("advancing run %s", run_id)
            failed.append(run_id)
    return failed


class RunWaker:
    """The waker thread (see the module docstring): ``start()`` at the service's start,
    ``stop()`` at its end."""

    def __init__(self, home: Home, poll: float | None = None) -> None:
        self.home = home
        self.poll = poll if poll is not None else poll_seconds()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="stella-runs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        db = connect(self.home.db_path)
        try:
            self._once(db, store.unfinished)            # resume: every unfinished run, once
            while not self._stop.wait(self.poll):
                self._once(db, due)
        finally:
            db.close()

    def _once(self, db: sqlite_utils.Database, which: Callable[[sqlite_utils.Database], list[str]]) -> None:
        try:
            advance_each(self.home, db, which(db))
        except Exception:                   # never let one round (a busy database…) stop the waker
            log.exception("run waker")
            with contextlib.suppress(sqlite3.Error):
                if db.conn.in_transaction:
                    db.execute("ROLLBACK")
