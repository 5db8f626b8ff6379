"""Who is calling the service, and how they proved it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from appliance import users


@dataclass(frozen=True)
class Caller:
    """Who is calling, and how they proved it."""

    user: users.User
    via: Literal["session", "token"]
    session_id: str | None = None      # the session's id (cookie auth), for logout and CSRF
    csrf_token: str | None = None      # the session's CSRF token (cookie auth)
