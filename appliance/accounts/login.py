"""Logging in to the console: password check, rate limit, session, audit events."""

from __future__ import annotations

import sqlite_utils

from appliance import audit, users
from appliance.accounts import passwords, ratelimit, sessions
from appliance.errors import LoginFailed, RateLimited
from appliance.store.db import transaction
from kit.timeutil import format_time, now

MAX_NAME = 200


def login(db: sqlite_utils.Database, name: str, password: str, address: str) -> sessions.Session:
    """Open a session for *name* if *password* is theirs. Audited: ``login``, ``login.failed``
    (a wrong password, an unknown user, no password set), ``login.refused`` (rate-limited).

    Raises:
        RateLimited: too many failures for the user or the address within the window.
        LoginFailed: the name and password do not match (the message does not say why).
    """
    name = name[:MAX_NAME]
    moment = now()
    try:
        ratelimit.check(db, name, address, moment)
    except RateLimited as exc:
        with transaction(db):
            audit.append(db, name, "login.refused", {"address": address, "reason": "rate-limited"},
                         format_time(moment))
        raise exc
    ok = passwords.check(db, name, password)
    with transaction(db):
        when = format_time(moment)
        if not ok:
            ratelimit.record(db, name, address, moment)
            audit.append(db, name, "login.failed", {"address": address}, when)
        else:
            user = users.get(db, name)
            session = sessions.create(db, user, address, moment)
            ratelimit.clear(db, name)
            audit.append(db, name, "login", {"address": address, "session": sessions.ref(session.id)}, when)
    if not ok:
        raise LoginFailed("wrong user name or password")
    return session
