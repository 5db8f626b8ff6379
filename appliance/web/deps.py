"""What a route receives: the home, a database connection of its own, and the caller.

Contract for every route (API and console):

- ``db: sqlite_utils.Database = Depends(database)`` — one connection per request,
  closed after the response; the schema was migrated when the service started.
- ``who: Caller = Depends(caller)`` — the authenticated user (session cookie or bearer
  token) or a 401; for a state-changing request authenticated by cookie, the CSRF token
  was checked (403 otherwise). Roles and separation of duties are NOT checked here: the
  appliance functions the route calls check them, exactly as for the CLI.
- ``who: Caller | None = Depends(maybe_caller)`` — for console pages that redirect to the
  login page instead of answering 401.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator

import sqlite_utils
from fastapi import Depends, Request

from appliance.home import Home
from appliance.store.db import connect
from appliance.web import auth
from appliance.web.caller import Caller
from appliance.web.errors import HTTPProblem

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def home(request: Request) -> Home:
    found: Home = request.app.state.home
    return found


POOL_SIZE = 16     # idle connections kept; a request takes one for itself alone


def _pool(request: Request) -> queue.SimpleQueue[sqlite_utils.Database]:
    state = request.app.state
    found: queue.SimpleQueue[sqlite_utils.Database] | None = getattr(state, "connections", None)
    if found is None:
        found = state.connections = queue.SimpleQueue()
    return found


def database(request: Request) -> Iterator[sqlite_utils.Database]:
    """A connection for this request alone: an idle one from the app's pool, else a new one.

    Opening one (pragmas, schema read) cost ~0.5-1 ms of every request. A connection goes
    back only when no transaction is left open on it; otherwise, or when the pool is full,
    it is closed.
    """
    pool = _pool(request)
    try:
        db = pool.get_nowait()
    except queue.Empty:
        db = connect(home(request).db_path, any_thread=True)
    try:
        yield db
    finally:
        if db.conn.in_transaction or pool.qsize() >= POOL_SIZE:
            db.close()
        else:
            pool.put(db)


def maybe_caller(request: Request, db: sqlite_utils.Database = Depends(database)) -> Caller | None:
    """The caller when the request proves one, else None (the console redirects to /login)."""
    return auth.authenticate(request, db)


async def caller(request: Request, found: Caller | None = Depends(maybe_caller)) -> Caller:
    """The authenticated caller (401 otherwise); CSRF checked for unsafe cookie requests (403).

    (Async only to read a form's CSRF field; the database work runs in ``maybe_caller``,
    in the thread pool.)"""
    if found is None:
        raise HTTPProblem(401, "not-authenticated", "log in (POST /api/v1/login) or send a bearer token")
    if request.method not in SAFE_METHODS and found.via == "session":
        await auth.check_csrf(request, found)
    return found
