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
- ``who: Caller | None = Depends(viewer)`` — the same for ``async`` console pages that only
  read, through ``snapshot(request)`` (memoised reads on the event loop) instead of a
  connection of their own.
"""

from __future__ import annotations

import contextlib
import queue
from collections.abc import Iterator

import sqlite_utils
from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from appliance.accounts import sessions
from appliance.home import Home
from appliance.store.db import connect
from appliance.web import auth
from appliance.web.caller import Caller
from appliance.web.errors import HTTPProblem
from appliance.web.snapshot import Snapshot
from kit.timeutil import now

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def home_of(request: Request) -> Home:
    found: Home = request.app.state.home
    return found


async def home(request: Request) -> Home:
    """The home (async: a dependency FastAPI would otherwise run on the thread pool)."""
    return home_of(request)


POOL_SIZE = 16     # idle connections kept; a request takes one for itself alone


def _pool(request: Request) -> queue.SimpleQueue[sqlite_utils.Database]:
    state = request.app.state
    found: queue.SimpleQueue[sqlite_utils.Database] | None = getattr(state, "connections", None)
    if found is None:
        found = state.connections = queue.SimpleQueue()
    return found


@contextlib.contextmanager
def borrow(request: Request) -> Iterator[sqlite_utils.Database]:
    """A connection for this request alone: an idle one from the app's pool, else a new one.

    Opening one (pragmas, schema read) cost ~0.5-1 ms of every request. A connection goes
    back only when no transaction is left open on it; otherwise, or when the pool is full,
    it is closed.
    """
    pool = _pool(request)
    try:
        db = pool.get_nowait()
    except queue.Empty:
        db = connect(home_of(request).db_path, any_thread=True)
    try:
        yield db
    finally:
        if db.conn.in_transaction or pool.qsize() >= POOL_SIZE:
            db.close()
        else:
            pool.put(db)


def database(request: Request) -> Iterator[sqlite_utils.Database]:
    with borrow(request) as db:
        yield db


def snapshot(request: Request) -> Snapshot:
    """The service's memoised reads (appliance/web/snapshot.py): event-loop code only."""
    found: Snapshot = request.app.state.snapshot
    return found


def _caller_on_pool(request: Request) -> Caller | None:
    with borrow(request) as db:
        return auth.authenticate(request, db)


async def viewer(request: Request) -> Caller | None:
    """``maybe_caller`` for pages that only read, without a thread-pool hop in the common case:
    a session cookie resolved from the snapshot (its row is memoised until the next commit, so a
    logout or a password change ends it at once). A bearer token, or a session due the touch of
    its idle expiry, goes through the thread pool and a pooled connection, as they write."""
    if request.headers.get("authorization") is not None:
        return await run_in_threadpool(_caller_on_pool, request)
    session_id = request.cookies.get(auth.COOKIE)
    if not session_id:
        return None
    stored = snapshot(request).read(("session", session_id), lambda db: sessions.find(db, session_id))
    moment = now()
    if stored is None or not stored.is_open(moment):
        return None
    if stored.due_touch(moment):
        return await run_in_threadpool(_caller_on_pool, request)
    s = stored.session
    return Caller(s.user, "session", session_id=s.id, csrf_token=s.csrf_token)


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
