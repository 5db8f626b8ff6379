"""Authentication of the HTTP face: a bearer API token, else the session cookie; CSRF for
cookie-authenticated requests that change state. The rules (passwords, sessions, tokens,
the rate limit, audit events) are the appliance's (``appliance.accounts``); this module
reads them off requests and writes the cookie.

For the console (no-JavaScript forms): :func:`login_form` logs a user in and sets the
cookie on the response, :func:`logout_form` ends the session and clears it, and
``Caller.csrf_token`` is the value of the hidden ``csrf_token`` field of every form.
"""

from __future__ import annotations

import hmac

import sqlite_utils
from fastapi import Request, Response

from appliance.accounts import login as accounts_login, sessions, tokens
from appliance.web.caller import Caller
from appliance.web.errors import HTTPProblem

COOKIE = "stella_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def authenticate(request: Request, db: sqlite_utils.Database) -> Caller | None:
    """The caller proven by the request's bearer token (``Authorization: Bearer …``) or,
    without that header, its session cookie; None when neither proves anyone."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None
        found = tokens.resolve(db, value.strip(), client_address(request))
        return Caller(found[0], "token") if found else None
    session_id = request.cookies.get(COOKIE)
    if not session_id:
        return None
    session = sessions.resolve(db, session_id)
    if session is None:
        return None
    return Caller(session.user, "session", session_id=session.id, csrf_token=session.csrf_token)


def _matches(given: str | None, expected: str | None) -> bool:
    return bool(given) and bool(expected) and hmac.compare_digest(str(given).encode(), str(expected).encode())


async def check_csrf(request: Request, who: Caller) -> None:
    """Raise HTTPProblem(403, "csrf", …) unless the request carries the session's CSRF token:
    the ``X-CSRF-Token`` header, or the ``csrf_token`` field of a form post."""
    if _matches(request.headers.get(CSRF_HEADER), who.csrf_token):
        return
    if request.headers.get("content-type", "").split(";")[0].strip().lower() in FORM_TYPES:
        form = await request.form()
        field = form.get(CSRF_FIELD)
        if isinstance(field, str) and _matches(field, who.csrf_token):
            return
    raise HTTPProblem(403, "csrf", f"a request that changes state needs the session's CSRF token "
                                   f"(header {CSRF_HEADER} or form field {CSRF_FIELD})")


def set_session_cookie(request: Request, response: Response, session: sessions.Session) -> None:
    """The session cookie: HttpOnly, SameSite=Strict, Secure when the service runs TLS."""
    response.set_cookie(COOKIE, session.id, httponly=True, samesite="strict", secure=bool(request.app.state.tls),
                        path="/")


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(COOKIE, httponly=True, samesite="strict", secure=bool(request.app.state.tls), path="/")


def login_form(request: Request, response: Response, db: sqlite_utils.Database, user: str,
               password: str) -> sessions.Session:
    """Log *user* in and set the cookie on *response* (raises LoginFailed, RateLimited)."""
    session = accounts_login.login(db, user, password, client_address(request))
    set_session_cookie(request, response, session)
    return session


def logout_form(request: Request, response: Response, db: sqlite_utils.Database, who: Caller) -> bool:
    """End *who*'s session (if it is one) and clear the cookie on *response*."""
    ended = who.session_id is not None and sessions.logout(db, who.session_id, client_address(request))
    clear_session_cookie(request, response)
    return ended
