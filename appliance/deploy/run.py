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

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from appliance import lock, users
from appliance.deploy import engine, evidence, plan, records, rollout, targets
from appliance.deploy.errors import DeployConflict
from appliance.errors import ConflictError
from appliance.home import Home
from appliance.promotions import service, states, store
from appliance.promotions.errors import OrchestrationRefused
from appliance import testhooks


@dataclass
class Report:
    deployment: str
    promotion: str
    release: str
    environment: str
    ok: bool = False
    targets: list[dict[str, Any]] = field(default_factory=list)
    packet_type: str = ""
    packet: str = ""
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"deployment": self.deployment, "promotion": self.promotion, "release": self.release,
                "environment": self.environment, "ok": self.ok, "state": "deployed" if self.ok else "failed",
                "targets": self.targets, "evidence": {"type": self.packet_type, "sha256": self.packet},
                "message": self.message}


@contextlib.contextmanager
def deploy_lock(home: Home) -> Iterator[None]:
    try:
        with lock.exclusive(home.root / "deploy.lock", 0.0, "another deploy"):
            yield
    except ConflictError as exc:
        raise DeployConflict(exc.message) from None


def deploy(home: Home, db: sqlite_utils.Database, promotion_id: str, deployer: users.User,
           trigger: dict[str, Any] | None = None) -> Report:
    """Deploy (after finishing any orphaned deployment). Returns the report, ok or not.

    *trigger* (e.g. ``{"auto": true, "approvedBy": …}`` for auto-deploy) is kept in the
    deployment row's detail.

    Raises before anything changes: GatesBlocked, OrchestrationRefused, StateConflict,
    LockError (template), RegistryError, EngineDown, DeployConflict.
    """
    from appliance.deploy import recovery
    with deploy_lock(home):
        recovery.recover(home, db, deployer.name)
        return _deploy(home, db, promotion_id, deployer, trigger or {})


def _deploy(home: Home, db: sqlite_utils.Database, promotion_id: str, deployer: users.User,
            trigger: dict[str, Any]) -> Report:
    p = store.get(db, promotion_id)
    if not deployer.has("deployer"):
        raise OrchestrationRefused(f"{deployer.name} lacks the deployer role", kind="missing-role")
    states.check(p.id, p.state, states.DEPLOYING, "deploy")
    info = plan.load_release(home, db, p.release)
    ts = targets.listing(db, p.environment)
    plan.preflight(home, db, info, p.environment, ts)
    timeout = targets.settings(db, p.environment).health_timeout
    dep_id, _ = service.start_deployment(home, db, p.id, deployer,
                                         detail={**trigger, "targets": [t.name for t in ts],
                                                 "healthTimeout": timeout})
    report = Report(dep_id, p.id, p.release, p.environment)
    jobs, results = [], {}
    for t in ts:
        lock_bytes = plan.render(home, db, info, t, p.environment, dep_id)
        job = rollout.Job(t, lock_bytes, records.store_blob(home, lock_bytes), timeout)
        records.begin(db, dep_id, t.name, lock_bytes, job.lock_hex)
        testhooks.pause("deploy-before-up")
        jobs.append(job)
        results[t.name] = rollout.apply(home, job)
        if not results[t.name].ok:
            break
    if all(r.ok for r in results.values()) and len(results) == len(ts):
        return succeed(home, db, info, report, jobs, results, deployer.name)
    return fail(home, db, report, jobs, results, deployer.name)


def succeed(home: Home, db: sqlite_utils.Database, info: plan.ReleaseInfo, report: Report,
            jobs: list[rollout.Job], results: dict[str, rollout.Result], actor: str, note: str | None = None) -> Report:
    dep = evidence.event(db, report.deployment, [])["deployment"]
    facts = []
    for job in jobs:
        data = evidence.sticker(home, info, dep, job.target, job.lock_hex)
        with engine.client(job.target.docker, f"target {job.target.name}") as c:
            engine.write_sticker(c, job.target.project, data, job.refs)
        res = results[job.target.name]
        records.finish(db, report.deployment, job.target.name, "deployed", res.to_dict(), sticker=data)
        facts.append(_target_facts(job, res, data, None))
    service.finish_deployment(db, report.deployment, True, actor, {"targets": [f["target"] for f in facts]},
                              health="healthy")
    doc = evidence.event(db, report.deployment, facts, note)
    report.ok, report.targets, report.packet_type = True, facts, "deployment"
    report.packet = evidence.seal(home, db, report.promotion, report.deployment, "deployment", doc)
    report.message = f"{report.release} deployed to {report.environment} ({len(jobs)} target(s)), all healthy"
    return report


def fail(home: Home, db: sqlite_utils.Database, report: Report, jobs: list[rollout.Job],
         results: dict[str, rollout.Result], actor: str, note: str | None = None) -> Report:
    """Every target this deployment touched goes back; the deployment ends failed."""
    facts, errors = [], []
    for job in jobs:
        res = results.get(job.target.name) or rollout.Result(error="not reached")
        if res.error:
            errors.append(res.error)
        if res.touched:
            previous = records.current(db, job.target.name, exclude=report.deployment)
            back = rollout.restore(home, job.target, previous, job.timeout)
        else:
            back = {"target": job.target.name, "action": "none", "ok": True,
                    "note": "nothing was changed on this target"}
        state = "failed" if res.error else "rolled-back"
        records.finish(db, report.deployment, job.target.name, state, {**res.to_dict(), "rollback": back})
        facts.append(_target_facts(job, res, None, back))
    health = "unhealthy" if any(s.get("problems") for f in facts for s in f["services"]) else "error"
    service.finish_deployment(db, report.deployment, False, actor, {"errors": errors, "rollback": [
        f["rollback"] for f in facts]}, health=health)
    doc = evidence.event(db, report.deployment, facts, note)
    report.ok, report.targets, report.packet_type = False, facts, "rollback"
    report.packet = evidence.seal(home, db, report.promotion, report.deployment, "rollback", doc)
    report.message = f"{report.release} failed in {report.environment}: " + ("; ".join(errors) or "interrupted")
    return report


def _target_facts(job: rollout.Job, res: rollout.Result, sticker: bytes | None,
                  back: dict[str, Any] | None) -> dict[str, Any]:
    return {"target": job.target.name, "docker": job.target.docker, "project": job.target.project,
            "lockFile": job.lock.decode("utf-8"), "lockSha256": job.lock_hex, "sticker": evidence.sticker_doc(sticker),
            "ok": res.ok, "error": res.error, "services": res.services, "timingsMs": res.timings_ms,
            "rollback": back}
