"""Finishing a deployment whose process died (kill -9, power loss).

A deployment row still ``deploying`` while nobody holds ``deploy.lock`` has no owner.
The next deploy-family command (``deploy``, ``deploy --resume``, ``rollback``, ``drift``,
``whereis``, ``target``) takes the lock and decides: when every target of the
environment already runs the deployment's lock file, running and healthy (waiting up to
the environment's health timeout for services still starting), the deployment is
finished as deployed — stickers written, ``deployment`` packet. Otherwise every target
it touched goes back to its previous lock file (or is removed on a first deploy) and it
ends failed with a ``rollback`` packet. Either way the state is consistent again.
"""

from __future__ import annotations

import sqlite_utils

from appliance.deploy import bluegreen_end, engine, plan, records, rollout, targets
from appliance.deploy.errors import DeployConflict, DeployError
from appliance.deploy.outcome import Report, deploy_lock, fail, succeed
from appliance.home import Home
from kit.errors import StellaError

NOTE = "resumed: the process running this deployment died before it finished"


def recover(home: Home, db: sqlite_utils.Database, actor: str) -> list[Report]:
    """Finish or roll back every orphaned deployment (the caller holds the deploy lock)."""
    return [bluegreen_end.resume(home, db, dep_id, actor, NOTE) if bluegreen_end.is_blue_green(db, dep_id)
            else _resume(home, db, dep_id, actor) for dep_id in records.orphans(db)]


def _settled(home: Home, job: rollout.Job) -> rollout.Result:
    if job.target.kind == "agents":
        from appliance.deploy import agenthost
        return agenthost.settled(home, job)
    if job.target.kind == "swarm":
        from appliance.deploy import swarm
        return swarm.settled(home, job)
    res = rollout.Result(touched=True)
    try:
        with engine.client(job.target.docker, f"target {job.target.name}") as c:
            seen, diffs = rollout.wait_healthy(c, job.target, job.doc, job.lock_hex, job.timeout)
            res.services = rollout.service_results(job.doc, seen, diffs)
            res.config_hashes = {o.service: o.labels.get("com.docker.compose.config-hash", "") for o in seen}
            res.ok = not diffs
            if diffs:
                res.error = f"target {job.target.name}: " + "; ".join(f"{d.service} {d.kind} ({d.detail})"
                                                                      for d in diffs)
    except (DeployError, StellaError) as exc:
        res.error = exc.message
    return res


def _resume(home: Home, db: sqlite_utils.Database, dep_id: str, actor: str) -> Report:
    promotion_id, env, release = db.execute("SELECT promotion_id, environment, release FROM deployments "
                                            "WHERE id = ?", [dep_id]).fetchone()
    report = Report(dep_id, promotion_id, release, env)
    timeout = targets.settings(db, env).health_timeout
    by_name = {t.name: t for t in targets.listing(db, env)}
    jobs, results = [], {}
    for r in records.of_deployment(db, dep_id):
        t = by_name.get(r.target) or targets.Target(r.target, env, "", "", None)
        job = rollout.Job(t, r.lock_text.encode("utf-8"), r.lock_sha256, timeout)
        jobs.append(job)
        results[t.name] = _settled(home, job)
    complete = set(results) == set(by_name) and all(res.ok for res in results.values())
    if complete:
        info = plan.load_release(home, db, release)
        return succeed(home, db, info, report, jobs, results, actor, NOTE)
    return fail(home, db, report, jobs, results, actor, NOTE)


def recover_if_idle(home: Home, db: sqlite_utils.Database, actor: str) -> list[Report]:
    """Recover when no deploy is running (a running deploy owns its rows: leave them)."""
    try:
        with deploy_lock(home):
            return recover(home, db, actor)
    except DeployConflict:
        return []
