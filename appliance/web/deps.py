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


def database(request: Request) -> Iterator[sqlite_utils.Database]:
    db = connect(home(request).db_path, any_thread=True)
    try:
        yield db
    finally:
        db.close()


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
