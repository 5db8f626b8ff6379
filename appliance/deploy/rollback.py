"""``stella rollback ENV [--to NAME@VERSION]``: the previous (or a named) release, again,
through the same gates.

A rollback is a promotion like any other (kind recorded in ``rollbacks``), requested by a
deployer: gates are evaluated (policy, freeze, previous environment, approvals); when it
is approved at once it is deployed at once through the same health-gated rollout, else it
waits for its approvals and ``stella deploy`` finishes it.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from appliance import environments, users
from appliance.deploy import outcome, run
from appliance.home import Home
from appliance.promotions import service, states
from appliance.promotions.errors import NoPreviousRelease
from appliance.store.db import transaction
from kit.timeutil import format_time, now


@dataclass(frozen=True)
class RollbackPlan:
    environment: str
    current: str | None
    to: str


def _deployed(db: sqlite_utils.Database, env: str) -> list[str]:
    rows = db.execute("SELECT release FROM deployments WHERE environment = ? AND state = 'deployed' "
                      "ORDER BY finished_at DESC, id DESC", [env])
    return [r[0] for r in rows]


def choose(db: sqlite_utils.Database, env: str, to: str | None) -> RollbackPlan:
    """Raises NotFound when nothing was deployed before (no previous release)."""
    environments.get(db, env)
    history = _deployed(db, env)
    current = history[0] if history else None
    if to:
        return RollbackPlan(env, current, to)
    older = [r for r in history if r != current]
    if not older:
        raise NoPreviousRelease(f"nothing to roll back to in {env}: no release was deployed there before "
                                f"{current or 'now'} (name one with --to NAME@VERSION)")
    return RollbackPlan(env, current, older[0])


def rollback(home: Home, db: sqlite_utils.Database, env: str, to: str | None, reason: str,
             actor: users.User, progress: run.Progress | None = None) -> tuple[service.Outcome, outcome.Report | None]:
    plan = choose(db, env, to)
    why = reason or f"rollback of {plan.current or 'nothing'} to {plan.to}"
    outcome = service.promote(home, db, plan.to, env, f"rollback: {why}", actor, role="deployer")
    with transaction(db):
        db.execute("INSERT INTO rollbacks VALUES (?, ?, ?, ?, ?, ?)",
                   [outcome.promotion.id, env, plan.current, plan.to, actor.name, format_time(now())])
    if outcome.promotion.state != states.APPROVED:
        return outcome, None
    from appliance.runs import deploying
    return outcome, deploying.deploy(home, db, outcome.promotion.id, actor, progress=progress)
