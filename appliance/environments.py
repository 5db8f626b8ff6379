"""Environments (ordered), their freeze windows, and site-wide stop-the-line.

An environment's configuration — order, approvals policy, soak time, advisory staleness
budget, policy time limit, active freeze windows, and the site's stop-the-line state —
is what the gates read; :func:`config` builds that input document.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from appliance import audit
from appliance.errors import BadName
from appliance.promotions.errors import (
    AlreadyExists,
    AlreadyStopped,
    MissingRole,
    NoReason,
    NotStopped,
    UnknownEnvironment,
    UnknownWindow,
)
from appliance.store.db import transaction
from appliance.users import User
from kit import canonical
from kit.errors import BadWindow
from kit.gates.freeze import active_occurrence, check_window, next_start, parse_duration, zone
from kit.timeutil import format_time, now

STOP_KEY = "stop_the_line"


@dataclass(frozen=True)
class EnvSpec:
    name: str
    order: int
    required_approvals: int = 0
    approver_role: str = "approver"
    separation_of_duties: bool = False
    soak_seconds: int = 0
    staleness_hours: int = 168
    policy_timeout: int = 30


_COLS = ("name", "ord", "required_approvals", "approver_role", "separation_of_duties", "soak_seconds",
         "staleness_hours", "policy_timeout")


def create(db: sqlite_utils.Database, spec: EnvSpec, actor: str) -> None:
    if not spec.name or not spec.name.replace("-", "").isalnum():
        raise BadName(f"bad environment name {spec.name!r}")
    if db.execute("SELECT 1 FROM environments WHERE name = ?", [spec.name]).fetchone():
        raise AlreadyExists(f"environment {spec.name} already exists")
    taken = db.execute("SELECT name FROM environments WHERE ord = ?", [spec.order]).fetchone()
    if taken:
        raise AlreadyExists(f"order {spec.order} is taken by {taken[0]}")
    with transaction(db):
        when = format_time(now())
        db.execute(f"INSERT INTO environments ({', '.join(_COLS)}, created_at, created_by) VALUES "
                   f"({', '.join('?' * (len(_COLS) + 2))})",
                   [spec.name, spec.order, spec.required_approvals, spec.approver_role,
                    int(spec.separation_of_duties), spec.soak_seconds, spec.staleness_hours, spec.policy_timeout,
                    when, actor])
        audit.append(db, actor, "env.create", _spec_dict(spec), when)


def _spec_dict(spec: EnvSpec) -> dict[str, Any]:
    return {"name": spec.name, "order": spec.order, "requiredApprovals": spec.required_approvals,
            "approverRole": spec.approver_role, "separationOfDuties": spec.separation_of_duties,
            "soakSeconds": spec.soak_seconds, "stalenessBudgetHours": spec.staleness_hours,
            "policyTimeoutSeconds": spec.policy_timeout}


def get(db: sqlite_utils.Database, name: str) -> EnvSpec:
    row = db.execute(f"SELECT {', '.join(_COLS)} FROM environments WHERE name = ?", [name]).fetchone()
    if row is None:
        raise UnknownEnvironment(f"unknown environment {name!r} (stella env list)")
    return EnvSpec(row[0], row[1], row[2], row[3], bool(row[4]), row[5], row[6], row[7])


def ordered(db: sqlite_utils.Database) -> list[EnvSpec]:
    return [get(db, r[0]) for r in db.execute("SELECT name FROM environments ORDER BY ord")]


def previous(db: sqlite_utils.Database, spec: EnvSpec) -> EnvSpec | None:
    row = db.execute("SELECT name FROM environments WHERE ord < ? ORDER BY ord DESC LIMIT 1", [spec.order]).fetchone()
    return get(db, row[0]) if row else None


def windows(db: sqlite_utils.Database, name: str) -> list[dict[str, Any]]:
    rows = db.execute("SELECT id, rrule, dtstart, duration, tz, reason, created_by FROM freeze_windows "
                      "WHERE environment = ? AND removed_at IS NULL ORDER BY id", [name])
    return [{"id": i, "rrule": r, "dtstart": s, "duration": d, "tz": tz, "reason": why, "createdBy": by}
            for i, r, s, d, tz, why, by in rows]


def stop_state(db: sqlite_utils.Database) -> dict[str, Any] | None:
    row = db.execute("SELECT value FROM site_state WHERE key = ?", [STOP_KEY]).fetchone()
    return canonical.loads(row[0]) if row else None


def config(db: sqlite_utils.Database, spec: EnvSpec) -> dict[str, Any]:
    """The environment input document of a decision."""
    return {**_spec_dict(spec), "freezeWindows": windows(db, spec.name), "stopTheLine": stop_state(db)}


def admin(actor: User) -> str:
    """The name of *actor*, who must hold the admin role (freeze windows, stop-the-line)."""
    if not actor.has("admin"):
        raise MissingRole(f"{actor.name} lacks the admin role")
    return actor.name


def freeze(db: sqlite_utils.Database, name: str, *, rrule: str | None, start: str | None, duration: str,
           tz: str, reason: str, actor: User) -> str:
    """Add a freeze window (admin role); *duration* as ``64h``; returns its id (F-0001…)."""
    by = admin(actor)
    if not rrule and not start:
        raise BadWindow("a freeze window needs a recurrence rule (rrule) or a start (one-off)")
    seconds = parse_duration(duration)
    get(db, name)
    if not reason.strip():
        raise NoReason("a freeze window needs a --reason")
    # Default anchor: local midnight far enough back that an occurrence which began before
    # this command (and is still running) exists; --start anchors INTERVAL>1 rules.
    local_now = now().astimezone(zone(tz)).replace(tzinfo=None, hour=0, minute=0, second=0)
    dtstart = start or (local_now - dt.timedelta(days=seconds // 86400 + 1)).isoformat()
    window = {"rrule": rrule, "dtstart": dtstart, "duration": seconds, "tz": tz, "reason": reason}
    check_window(window)
    try:        # evaluate it once now, so a window the gate cannot evaluate is never stored
        active_occurrence(window, now())
        next_start(window, now())
    except (OverflowError, ValueError) as exc:
        raise BadWindow(f"freeze window cannot be evaluated: {exc}") from None
    with transaction(db):
        count = db.execute("SELECT count(*) FROM freeze_windows").fetchone()[0]
        ident = f"F-{count + 1:04d}"
        when = format_time(now())
        db.execute("INSERT INTO freeze_windows (id, environment, rrule, dtstart, duration, tz, reason, created_at, "
                   "created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   [ident, name, rrule, dtstart, seconds, tz, reason, when, by])
        audit.append(db, by, "env.freeze", {"environment": name, "id": ident, **window}, when)
    return ident


def unfreeze(db: sqlite_utils.Database, ident: str, actor: User) -> None:
    """Remove a freeze window (admin role)."""
    by = admin(actor)
    row = db.execute("SELECT environment FROM freeze_windows WHERE id = ? AND removed_at IS NULL", [ident]).fetchone()
    if row is None:
        raise UnknownWindow(f"no active freeze window {ident}")
    with transaction(db):
        when = format_time(now())
        db.execute("UPDATE freeze_windows SET removed_at = ?, removed_by = ? WHERE id = ?", [when, by, ident])
        audit.append(db, by, "env.unfreeze", {"environment": row[0], "id": ident}, when)


def stop_the_line(db: sqlite_utils.Database, reason: str, actor: User, at: dt.datetime | None = None) -> None:
    """Block every promotion and deployment (admin role)."""
    by = admin(actor)
    if not reason.strip():
        raise NoReason("stop-the-line needs a --reason")
    if stop_state(db):
        raise AlreadyStopped("the line is already stopped (stella env resume)")
    value = {"by": by, "reason": reason, "at": format_time(at or now())}
    with transaction(db):
        db.execute("INSERT INTO site_state VALUES (?, ?)", [STOP_KEY, canonical.dumps(value).decode()])
        audit.append(db, by, "site.stop-the-line", value, value["at"])


def resume(db: sqlite_utils.Database, actor: User, reason: str | None) -> None:
    """Lift stop-the-line (admin role)."""
    by = admin(actor)
    state = stop_state(db)
    if not state:
        raise NotStopped("the line is not stopped")
    with transaction(db):
        db.execute("DELETE FROM site_state WHERE key = ?", [STOP_KEY])
        audit.append(db, by, "site.resume", {"stopped": state, "reason": reason}, format_time(now()))
