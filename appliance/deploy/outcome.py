"""How a deployment ends: stickers and a ``deployment`` packet when every target is
healthy, or every touched target restored and a ``rollback`` packet.

Shared by a running deploy (``run``) and the recovery of one whose process died
(``recovery``), which is why it sits below both.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from appliance import lock
from appliance.deploy import engine, plan, records, rollout, sealing
from appliance.deploy.errors import DeployConflict
from appliance.errors import ConflictError
from appliance.home import Home
from appliance.promotions import service


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


def succeed(home: Home, db: sqlite_utils.Database, info: plan.ReleaseInfo, report: Report,
            jobs: list[rollout.Job], results: dict[str, rollout.Result], actor: str, note: str | None = None,
            *, extra: Mapping[str, Mapping[str, Any]] | None = None, detail: Mapping[str, Any] | None = None) -> Report:
    """Every target healthy: stickers, deployed, the ``deployment`` packet. *extra*: more facts
    per target name (a rollout strategy's ``batch``, ``probes``), added to its facts and record;
    *detail*: more for the deployment's final detail (the strategy and its batches)."""
    more = extra or {}
    dep = sealing.event(db, report.deployment, [])["deployment"]
    facts, queued = [], []
    for job in jobs:
        data = sealing.sticker(home, info, dep, job.target, job.lock_hex)
        res = results[job.target.name]
        if job.target.kind == "agents":         # on each host, through its agent: every host's task queued, then
            from appliance.deploy import agenthost  # all waited for at once (each costs a poll's pick-up)
            queued += agenthost.queue_stickers(home, job, agenthost.hosts_of(res), data)
        else:
            with engine.client(job.target.docker, f"target {job.target.name}") as c:
                engine.write_sticker(c, job.target.project, data, job.refs)
        records.finish(db, report.deployment, job.target.name, "deployed",
                       {**res.to_dict(), **more.get(job.target.name, {})}, sticker=data)
        facts.append({**_target_facts(job, res, data, None), **more.get(job.target.name, {})})
    if queued:
        from appliance.deploy import agenthost
        agenthost.wait_stickers(home, queued)
    service.finish_deployment(db, report.deployment, True, actor,
                              {"targets": [f["target"] for f in facts], **(detail or {})}, health="healthy")
    doc = sealing.event(db, report.deployment, facts, note)
    report.ok, report.targets, report.packet_type = True, facts, "deployment"
    report.packet = sealing.seal(home, db, report.promotion, report.deployment, "deployment", doc)
    report.message = f"{report.release} deployed to {report.environment} ({len(jobs)} target(s)), all healthy"
    return report


def fail(home: Home, db: sqlite_utils.Database, report: Report, jobs: list[rollout.Job],
         results: dict[str, rollout.Result], actor: str, note: str | None = None,
         *, extra: Mapping[str, Mapping[str, Any]] | None = None, detail: Mapping[str, Any] | None = None) -> Report:
    """Every target this deployment touched goes back; the deployment ends failed (*extra*: as
    for :func:`succeed`)."""
    more = extra or {}
    facts, errors = [], []
    for job in jobs:
        res = results.get(job.target.name) or rollout.Result(error="not reached")
        if res.error:
            errors.append(res.error)
        if res.touched:
            previous = records.current(db, job.target.name, exclude=report.deployment)
            back = rollout.restore(home, job.target, previous, job.timeout, report.deployment)
        else:
            back = {"target": job.target.name, "action": "none", "ok": True,
                    "note": "nothing was changed on this target"}
        state = "failed" if res.error else "rolled-back"
        records.finish(db, report.deployment, job.target.name, state,
                       {**res.to_dict(), "rollback": back, **more.get(job.target.name, {})})
        facts.append({**_target_facts(job, res, None, back), **more.get(job.target.name, {})})
    health = "unhealthy" if any(s.get("problems") for f in facts for s in f["services"]) else "error"
    service.finish_deployment(db, report.deployment, False, actor, {"errors": errors, "rollback": [
        f["rollback"] for f in facts], **(detail or {})}, health=health)
    doc = sealing.event(db, report.deployment, facts, note)
    report.ok, report.targets, report.packet_type = False, facts, "rollback"
    report.packet = sealing.seal(home, db, report.promotion, report.deployment, "rollback", doc)
    report.message = f"{report.release} failed in {report.environment}: " + ("; ".join(errors) or "interrupted")
    return report


def _target_facts(job: rollout.Job, res: rollout.Result, sticker: bytes | None,
                  back: dict[str, Any] | None) -> dict[str, Any]:
    facts = {"target": job.target.name, "docker": job.target.docker, "project": job.target.project,
             "lockFile": job.lock.decode("utf-8"), "lockSha256": job.lock_hex, "sticker": sealing.sticker_doc(sticker),
             "ok": res.ok, "error": res.error, "services": res.services, "timingsMs": res.timings_ms,
             "rollback": back}
    if res.hosts is not None:       # an agent target: each host (agent) by name, what it ran, its task
        facts["hosts"] = res.hosts
    return facts
