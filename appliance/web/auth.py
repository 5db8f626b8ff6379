"""Authentication: sessions (cookie), API tokens (bearer), CSRF. (Being built: issue 12.)"""

from __future__ import annotations

import sqlite_utils
from fastapi import Request

from appliance.web.caller import Caller


def authenticate(request: Request, db: sqlite_utils.Database) -> Caller | None:
    """The caller proven by the request's session cookie or bearer token, or None."""
    return None


def check_csrf(request: Request, who: Caller) -> None:
    """Raise HTTPProblem(403, "csrf", …) unless the request carries the session's CSRF token."""
