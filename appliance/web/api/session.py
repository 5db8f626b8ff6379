"""The session: log in (``POST /login``), log out (``POST /logout``), who am I (``GET /me``)."""

from __future__ import annotations

from typing import Any

import sqlite_utils
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from appliance.web import auth
from appliance.web.caller import Caller
from appliance.web.deps import caller, database
from appliance.web.errors import HTTPProblem

router = APIRouter(tags=["session"])


class Credentials(BaseModel):
    user: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=1024)


class LoggedIn(BaseModel):
    user: str
    roles: list[str]
    csrfToken: str      # noqa: N815 - the JSON field's name


@router.post("/login", response_model=LoggedIn, responses={401: {"description": "wrong user name or password"},
                                                          429: {"description": "too many failed logins"}})
def login(body: Credentials, request: Request, response: Response,
          db: sqlite_utils.Database = Depends(database)) -> LoggedIn:
    """Log in with a console password: sets the HttpOnly session cookie and returns the
    CSRF token to send as ``X-CSRF-Token`` on every request that changes state."""
    session = auth.login_form(request, response, db, body.user, body.password)
    return LoggedIn(user=session.user.name, roles=list(session.user.roles), csrfToken=session.csrf_token)


@router.post("/logout")
def logout(request: Request, response: Response, who: Caller = Depends(caller),
           db: sqlite_utils.Database = Depends(database)) -> dict[str, Any]:
    """End the session (the cookie is cleared and the session revoked server-side)."""
    if who.via != "session":
        raise HTTPProblem(400, "not-a-session", "a bearer token has no session to end (stella token revoke ID)")
    auth.logout_form(request, response, db, who)
    return {"user": who.user.name, "loggedOut": True}


@router.get("/me")
def me(who: Caller = Depends(caller)) -> dict[str, Any]:
    # who the request proves, by which means, and (for a session) its CSRF token (docs/api.md)
    found: dict[str, Any] = {"user": who.user.name, "roles": list(who.user.roles), "via": who.via}
    if who.csrf_token:
        found["csrfToken"] = who.csrf_token
    return found
