"""The rate limit of failed logins: per user and per client address, over a sliding window."""

from __future__ import annotations

import datetime as dt

import sqlite_utils

from appliance.errors import RateLimited
from kit.timeutil import format_time

WINDOW = dt.timedelta(minutes=15)
PER_USER = 5          # failed logins of one user name within WINDOW
PER_ADDRESS = 20      # failed logins from one client address within WINDOW


def check(db: sqlite_utils.Database, user: str, address: str, when: dt.datetime) -> None:
    """Raise RateLimited when *user* or *address* failed too often within the window."""
    since = format_time(when - WINDOW)
    by_user = db.execute("SELECT count(*) FROM login_failures WHERE user = ? AND time > ?", [user, since])
    if by_user.fetchone()[0] >= PER_USER:
        raise RateLimited(f"too many failed logins for {user!r}; try again in {WINDOW.seconds // 60} minutes")
    by_address = db.execute("SELECT count(*) FROM login_failures WHERE address = ? AND time > ?", [address, since])
    if by_address.fetchone()[0] >= PER_ADDRESS:
        raise RateLimited(f"too many failed logins from {address}; try again in {WINDOW.seconds // 60} minutes")


def record(db: sqlite_utils.Database, user: str, address: str, when: dt.datetime) -> None:
    """Count one failed login (call inside a transaction); forgets failures older than the window."""
    db.execute("DELETE FROM login_failures WHERE time <= ?", [format_time(when - WINDOW)])
    db.execute("INSERT INTO login_failures (user, address, time) VALUES (?, ?, ?)", [user, address, format_time(when)])


def clear(db: sqlite_utils.Database, user: str) -> None:
    """Forget *user*'s failures after a successful login (the address's stay counted)."""
    db.execute("DELETE FROM login_failures WHERE user = ?", [user])
