"""``stella deploy``: a promotion's release rolled out to every target of its environment.

    deploy lock → finish orphaned deployments → preflight (template, pins, registry, engines)
    → start_deployment (approved → deploying, gates re-checked)
    → per target: render + store lock, pull by digest, compose up --detach, wait for health (health.py)
    → all healthy: stickers, deployed, ``deployment`` packet
    → any failure: every touched target back to its previous lock (or removed on a first
      deploy), failed, ``rollback`` packet

One deploy runs at a time per appliance (``deploy.lock``, flock with the pid); a row left
``deploying`` while nobody holds the lock belongs to a killed process (recovery.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import sqlite_utils

from appliance import testhooks, users
from appliance.deploy import plan, records, recovery, rollout, strategy as strategies, targets
from appliance.deploy.outcome import Report, deploy_lock, fail, succeed
from appliance.home import Home
from appliance.promotions import service, states, store
from appliance.promotions.errors import MissingRole

Progress = Callable[[float, str], None]     # (fraction done, what is happening): for a job's progress


def deploy(home: Home, db: sqlite_utils.Database, promotion_id: str, deployer: users.User,
           trigger: dict[str, Any] | None = None, progress: Progress | None = None, *,
           strategy: strategies.Strategy | None = None, sleep: Callable[[float], None] = time.sleep) -> Report:
    """Deploy (after finishing any orphaned deployment). Returns the report, ok or not.

    *trigger* (e.g. ``{"auto": true, "approvedBy": …}`` for auto-deploy) is kept in the
    deployment row's detail. *progress* hears each step (checks, each target, sealing).
    *strategy*: rolling or canary batches with a probe after each (strategy.py; *sleep* waits
    their pause and soak); None or all-at-once without a probe is the deploy as it always was.

    Raises before anything changes: GatesBlocked, OrchestrationRefused, StateConflict,
    LockError (template), RegistryError, EngineDown, DeployConflict.
    """
    with deploy_lock(home):
        recovery.recover(home, db, deployer.name)
        return _deploy(home, db, promotion_id, deployer, trigger or {}, progress or _quiet, strategy, sleep)


def _quiet(fraction: float, message: str) -> None:
    pass


def check(db: sqlite_utils.Database, promotion_id: str, deployer: users.User) -> store.Promotion:
    """The checks a deploy makes before anything else, on their own (the service answers a
    deploy request with them at once, before queuing its job): the promotion exists
    (UnknownPromotion), *deployer* holds the deployer role (MissingRole), its state allows a
    deploy (StateConflict)."""
    p = store.get(db, promotion_id)
    if not deployer.has("deployer"):
        raise MissingRole(f"{deployer.name} lacks the deployer role")
    states.check(p.id, p.state, states.DEPLOYING, "deploy")
    return p


def _deploy(home: Home, db: sqlite_utils.Database, promotion_id: str, deployer: users.User,
            trigger: dict[str, Any], progress: Progress, strategy: strategies.Strategy | None = None,
            sleep: Callable[[float], None] = time.sleep) -> Report:
    p = check(db, promotion_id, deployer)
    info = plan.load_release(home, db, p.release)
    ts = targets.listing(db, p.environment)
    progress(0.15, f"checking {len(ts)} target(s) of {p.environment}: engines, registry, images")
    plan.preflight(home, db, info, p.environment, ts)
    timeout = targets.settings(db, p.environment).health_timeout
    detail = {**trigger, "targets": [t.name for t in ts], "healthTimeout": timeout}
    groups = None if strategy is None or strategy.plain else strategies.batches(strategy, ts)
    if strategy is not None and groups is not None:     # additive: a plain deploy's detail is unchanged
        detail.update(strategy=strategy.to_dict(), batches=[[t.name for t in b] for b in groups])
    if strategy is not None and strategy.probe is not None and any(t.kind == "agents" for t in ts):
        from appliance.deploy import agenthost  # a probe dials the target's engine host; an agent target has none
        agenthost.refuse_probe([t.name for t in ts if t.kind == "agents"])
    dep_id, _ = service.start_deployment(home, db, p.id, deployer, detail=detail)
    report = Report(dep_id, p.id, p.release, p.environment)
    if strategy is not None and groups is not None:
        return strategies.roll(home, db, info, report, groups, timeout, deployer.name, strategy, progress, sleep)
    jobs, results = [], {}
    for i, t in enumerate(ts):
        progress(0.2 + 0.7 * i / len(ts), f"target {i + 1}/{len(ts)} {t.name}: starting {p.release}, "
                                          f"then health checks (up to {timeout:g} s)")
        lock_bytes = plan.render(home, db, info, t, p.environment, dep_id)
        job = rollout.Job(t, lock_bytes, records.store_blob(home, lock_bytes), timeout)
        records.begin(db, dep_id, t.name, lock_bytes, job.lock_hex)
        testhooks.pause("deploy-before-up")
        jobs.append(job)
        results[t.name] = rollout.apply(home, job)
        if not results[t.name].ok:
            break
    progress(0.9, "sealing the deployment's evidence")
    if all(r.ok for r in results.values()) and len(results) == len(ts):
        return succeed(home, db, info, report, jobs, results, deployer.name)
    return fail(home, db, report, jobs, results, deployer.name)
