"""Jobs: the service's long work (import, deploy, rollback, re-evaluate), run by its worker.

A route records a job (``queued``) and answers at once with its id; the service's worker
(appliance/web/jobs.py) runs it — the same appliance function the CLI command calls, as
the user who asked — and records its progress, then ``succeeded`` with a result or
``failed`` with the error's kind and message (the kind the CLI prints). A job left
``queued`` or ``running`` by a service process that died is marked ``interrupted`` when the
service starts again (:func:`interrupt_orphans`): reported, never silently lost. A deploy
it was running is finished or rolled back by the next deploy or ``stella deploy --resume``
(appliance/deploy/recovery.py).

One deploy per environment at a time: :func:`create` refuses a deploy or rollback while
another deploy-family job of the same environment is queued or running (409
``deploy-running``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from appliance import users
from appliance.deploy.errors import DeployConflict
from appliance.deploy.unfinished import find as unfinished
from appliance.home import Home
from appliance.promotions.errors import MissingRole, PlanNotReady, UnknownJob
from appliance.store.db import transaction
from kit.timeutil import format_time, now

QUEUED, RUNNING, SUCCEEDED, FAILED, INTERRUPTED = "queued", "running", "succeeded", "failed", "interrupted"
STATES = (QUEUED, RUNNING, SUCCEEDED, FAILED, INTERRUPTED)
KINDS = ("import", "plan", "deploy", "rollback", "reevaluate")
DEPLOY_KINDS = ("deploy", "rollback")
IMPORT_ROLE = "admin"          # the service's importers (the CLI's are whoever may write the home)
_COLS = ("id, kind, state, progress, message, created_by, created_at, started_at, finished_at, environment, "
         "params, result, error_kind, error_message")


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    state: str
    progress: float
    message: str
    created_by: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    environment: str | None
    params: dict[str, Any]
    result: Any
    error_kind: str | None
    error_message: str | None

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Job:
        """From a row of ``_COLS`` (the appliance's own table; params and result are its own JSON)."""
        return cls(row[0], row[1], row[2], float(row[3]), row[4], row[5], row[6], row[7], row[8], row[9],
                   json.loads(row[10] or "{}"), json.loads(row[11]) if row[11] is not None else None,
                   row[12], row[13])

    @property
    def done(self) -> bool:
        return self.state in (SUCCEEDED, FAILED, INTERRUPTED)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "state": self.state,
                "progress": {"fraction": self.progress, "message": self.message},
                "createdBy": self.created_by, "createdAt": self.created_at, "startedAt": self.started_at,
                "finishedAt": self.finished_at, "environment": self.environment, "params": self.params,
                "result": self.result,
                "error": {"kind": self.error_kind, "message": self.error_message} if self.error_kind else None}


def _number(job_id: str) -> int:
    return int(job_id.partition("-")[2])


def create(db: sqlite_utils.Database, kind: str, created_by: str, params: dict[str, Any],
           environment: str | None = None) -> Job:
    """Record a queued job. Raises DeployConflict (deploy-running) for a deploy or rollback
    while another one of *environment* is queued or running."""
    assert kind in KINDS, kind
    with transaction(db):
        if kind in DEPLOY_KINDS and environment is not None:
            _no_deploy_job(db, environment)
        last = db.execute("SELECT id FROM jobs ORDER BY rowid DESC LIMIT 1").fetchone()
        job_id = f"J-{(_number(last[0]) if last else 0) + 1:04d}"
        db.execute("INSERT INTO jobs (id, kind, state, created_by, created_at, environment, params) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)",
                   [job_id, kind, QUEUED, created_by, format_time(now()), environment,
                    json.dumps(params, sort_keys=True)])
    return get(db, job_id)


def _no_deploy_job(db: sqlite_utils.Database, environment: str) -> None:
    busy = db.execute(f"SELECT id FROM jobs WHERE kind IN ({', '.join('?' * len(DEPLOY_KINDS))}) "
                      "AND environment = ? AND state IN (?, ?) ORDER BY rowid",
                      [*DEPLOY_KINDS, environment, QUEUED, RUNNING]).fetchone()
    if busy:
        raise DeployConflict(f"a deploy to {environment} is already running (job {busy[0]}); wait for it to finish")


def check_import(user: users.User) -> None:
    """Raises MissingRole unless *user* may import kits through the service (admin)."""
    if not user.has(IMPORT_ROLE):
        raise MissingRole(f"{user.name} lacks the {IMPORT_ROLE} role (importing a kit through the service)")


def check_deploy_free(home: Home, db: sqlite_utils.Database, environment: str) -> None:
    """Raises DeployConflict (deploy-running) while a deploy or rollback job of *environment*
    is queued or running, or a process (the CLI, say) is deploying to it right now."""
    _no_deploy_job(db, environment)
    for u in unfinished(home, db):
        if u.environment == environment and u.owner_alive:
            raise DeployConflict(f"{u.deployment} of {u.release} to {environment} is running"
                                 f"{f' (pid {u.pid})' if u.pid else ''}; wait for it to finish")


def start_deploy(home: Home, db: sqlite_utils.Database, promotion_id: str, deployer: users.User) -> Job:
    """A queued deploy job of the promotion, after what the deploy checks before it changes
    anything (unknown promotion, deployer role, state: appliance.deploy.run.check) and no
    other deploy of its environment running (deploy-running)."""
    from appliance.deploy import run  # docker, compose: only when a deploy is asked for
    from appliance.promotions import store
    check_deploy_free(home, db, store.get(db, promotion_id).environment)
    p = run.check(db, promotion_id, deployer)
    return create(db, "deploy", deployer.name, {"promotion": p.id}, p.environment)


def start_rollback(home: Home, db: sqlite_utils.Database, environment: str, actor: users.User,
                   to: str | None, reason: str) -> Job:
    """A queued rollback job of *environment* (unknown environment and deploy-running at once)."""
    from appliance import environments
    environments.get(db, environment)
    check_deploy_free(home, db, environment)
    return create(db, "rollback", actor.name, {"environment": environment, "to": to, "reason": reason},
                  environment)


def get(db: sqlite_utils.Database, job_id: str) -> Job:
    row = db.execute(f"SELECT {_COLS} FROM jobs WHERE id = ?", [job_id]).fetchone()
    if row is None:
        raise UnknownJob(f"unknown job {job_id!r}")
    return Job.from_row(row)


def listing(db: sqlite_utils.Database, limit: int, after: str | None = None) -> list[Job]:
    """Newest first: at most *limit* jobs older than the job *after* (None: from the newest)."""
    if after is None:
        rows = db.execute(f"SELECT {_COLS} FROM jobs ORDER BY rowid DESC LIMIT ?", [limit])
    else:
        rows = db.execute(f"SELECT {_COLS} FROM jobs WHERE rowid < (SELECT coalesce(max(rowid), 0) FROM jobs "
                          "WHERE id = ?) ORDER BY rowid DESC LIMIT ?", [after, limit])
    return [Job.from_row(r) for r in rows]


def started(db: sqlite_utils.Database, job_id: str, message: str = "started") -> None:
    db.execute("UPDATE jobs SET state = ?, started_at = ?, message = ?, pid = ? WHERE id = ? AND state = ?",
               [RUNNING, format_time(now()), message, os.getpid(), job_id, QUEUED])


def progress(db: sqlite_utils.Database, job_id: str, fraction: float, message: str) -> None:
    db.execute("UPDATE jobs SET progress = ?, message = ? WHERE id = ? AND state = ?",
               [max(0.0, min(1.0, fraction)), message, job_id, RUNNING])


def succeeded(db: sqlite_utils.Database, job_id: str, result: Any, message: str = "done") -> None:
    db.execute("UPDATE jobs SET state = ?, progress = 1, message = ?, result = ?, finished_at = ? WHERE id = ?",
               [SUCCEEDED, message, json.dumps(result, sort_keys=True), format_time(now()), job_id])


def failed(db: sqlite_utils.Database, job_id: str, kind: str, message: str, result: Any = None) -> None:
    db.execute("UPDATE jobs SET state = ?, message = ?, error_kind = ?, error_message = ?, result = ?, "
               "finished_at = ? WHERE id = ?",
               [FAILED, "failed", kind, message, None if result is None else json.dumps(result, sort_keys=True),
                format_time(now()), job_id])


def interrupt_orphans(db: sqlite_utils.Database) -> list[str]:
    """Mark every job left queued or running by a dead service process ``interrupted``;
    returns their ids. Call once when the service starts, before its worker runs."""
    with transaction(db):
        rows = db.execute("SELECT id, kind, state, pid FROM jobs WHERE state IN (?, ?) ORDER BY rowid",
                          [QUEUED, RUNNING]).fetchall()
        mine = os.getpid()
        orphans = [(i, k, s) for i, k, s, pid in rows if pid is None or pid != mine]
        when = format_time(now())
        for job_id, kind, state in orphans:
            what = ("the service stopped before it started" if state == QUEUED
                    else "the service stopped while it was running")
            if kind in DEPLOY_KINDS and state == RUNNING:
                what += ("; the deployment is finished or rolled back by the next deploy "
                         "(or stella deploy --resume)")
            elif kind == "import" and state == RUNNING:
                what += "; the import was finished or undone (all or nothing): see stella kits"
            db.execute("UPDATE jobs SET state = ?, message = ?, error_kind = ?, error_message = ?, finished_at = ? "
                       "WHERE id = ?", [INTERRUPTED, "interrupted", "interrupted", what, when, job_id])
    return [i for i, _, _ in orphans]


def _planned_upload(db: sqlite_utils.Database, plan_job_id: str, user: users.User) -> tuple[Job, str]:
    """The plan job and its upload's path, while that upload waits for a decision."""
    check_import(user)
    plan = get(db, plan_job_id)
    if plan.kind != "plan":
        raise PlanNotReady(f"job {plan.id} is a {plan.kind} job, not the plan of an upload")
    if plan.state != SUCCEEDED:
        raise PlanNotReady(f"the plan {plan.id} is {plan.state}: only a kit whose plan succeeded can be imported")
    path = str(plan.params.get("path", ""))
    taken = db.execute("SELECT id FROM jobs WHERE kind = 'import' AND json_extract(params, '$.path') = ?",
                       [path]).fetchone()
    if taken:
        raise PlanNotReady(f"the kit planned by {plan.id} was handed to import job {taken[0]} already")
    if not path or not os.path.isfile(path):
        raise PlanNotReady(f"the kit planned by {plan.id} is no longer there (discarded); upload it again")
    return plan, path


def import_planned(db: sqlite_utils.Database, plan_job_id: str, user: users.User) -> Job:
    """Queue the import of the kit a plan job planned (the console's confirmation after its plan)."""
    plan, path = _planned_upload(db, plan_job_id, user)
    return create(db, "import", user.name, {"path": path, "filename": plan.params.get("filename"),
                                            "size": plan.params.get("size"), "plan": plan.id})


def discard_planned(db: sqlite_utils.Database, plan_job_id: str, user: users.User) -> None:
    """Delete the upload a plan job planned, not imported."""
    _plan, path = _planned_upload(db, plan_job_id, user)
    os.unlink(path)
