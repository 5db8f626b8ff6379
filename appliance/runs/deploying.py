"""Deploying a promotion through its run: ``stella deploy``, auto-deploy, ``stella rollback``
and the service's deploy jobs all come here.

A promotion with an unfinished run is deployed by advancing that run as the deployer: the
run's steps before its deploy step run first (as the deployer's process), the deploy step
deploys with its strategy, and the steps after it (health, soak, notify…) run before this
returns. A promotion without a run (requested before runs existed) deploys as before.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from appliance import users
from appliance.deploy import run as deploy_run
from appliance.deploy.outcome import Report, deploy_lock
from appliance.home import Home
from appliance.runs import engine, store
from appliance.runs.errors import StepNotDue


def deploy(home: Home, db: sqlite_utils.Database, promotion_id: str, deployer: users.User,
           trigger: dict[str, Any] | None = None, progress: deploy_run.Progress | None = None) -> Report:
    """Deploy *promotion_id* as *deployer* (see the module). Refusals as ``run.deploy``'s,
    plus StepNotDue when its run cannot reach its deploy step now (the step it waits on is
    named)."""
    run = store.of_promotion(db, promotion_id)
    if run is None or run.finished:
        return deploy_run.deploy(home, db, promotion_id, deployer, trigger, progress)
    with deploy_lock(home):          # refused first as before when another deploy runs (deploy-running)
        pass
    deploy_run.check(db, promotion_id, deployer)
    sink: dict[str, Any] = {"trigger": trigger or {}}
    engine.advance(home, db, run.id, engine.Advance(deployer.name, deployer, progress, sink=sink))
    report = sink.get("report")
    if isinstance(report, Report):
        return report
    waiting = [f"{name} ({row.message or row.status})" for name, row in store.steps(db, run.id).items()
               if row.status in ("running", "pending")]
    raise StepNotDue(f"run {run.id} of {promotion_id} is not at its deploy step; it waits on "
                     f"{', '.join(waiting) or 'nothing'} (stella run show {run.id})")
