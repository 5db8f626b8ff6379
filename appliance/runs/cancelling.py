"""Cancelling a run (``stella run cancel``): with its promotion while that is pending, else
the run alone (steps after a deploy: health, soak…)."""

from __future__ import annotations

import sqlite_utils

from appliance import audit, users
from appliance.home import Home
from appliance.promotions import service, states as pstates, store as pstore
from appliance.promotions.errors import MissingRole, NoReason
from appliance.runs import engine, store
from appliance.runs.store import Run
from appliance.store.db import transaction
from kit.timeutil import format_time, now


def cancel(home: Home, db: sqlite_utils.Database, run: Run, actor: users.User, reason: str) -> Run:
    """Cancel *run* (its requester or an admin): a promotion still pending is cancelled with it;
    running steps stop, steps meant for cancellation run (advanced once, without sleeping).

    Raises:
        MissingRole: *actor* neither requested the promotion nor is an admin.
        NoReason: no reason given.
    """
    if not reason.strip():
        raise NoReason("cancelling a run needs a --reason")
    p = pstore.get(db, run.promotion_id)
    if actor.name != p.requester and not actor.has("admin"):
        raise MissingRole(f"only the requester ({p.requester}) or an admin can cancel {run.id}")
    if p.state in pstates.PENDING:
        service.cancel(db, p.id, actor, reason, home=home)
    else:
        with transaction(db):
            store.mark_cancelled(db, run.id, f"cancelled by {actor.name}: {reason}")
            audit.append(db, actor.name, "run.cancel", {"run": run.id, "reason": reason}, format_time(now()))
        engine.advance(home, db, run.id, engine.Advance(actor.name, block=False))
    return store.get(db, run.id)
