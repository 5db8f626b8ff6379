"""The service's job worker: runs the jobs the API queues (appliance/jobs.py) in threads.

Each job runs the appliance function its CLI command runs, as the user who asked, with
its own database connection. Jobs run in lanes, one thread each, in the order they were
queued: ``deploy`` (deploys and rollbacks: the appliance deploys one at a time, deploy.lock),
``import`` (imports: one at a time, import.lock) and ``other`` (re-evaluations), so an
import does not wait behind a long deploy.

Started by the application's lifespan (appliance/web/app.py): first every job a dead
process left queued or running is marked ``interrupted``, then the lanes start.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlite_utils

from appliance import jobs, users
from appliance.home import Home
from appliance.store.db import connect
from kit.errors import StellaError

log = logging.getLogger("stella.jobs")

LANES = {"import": "import", "plan": "import", "deploy": "deploy", "rollback": "deploy", "reevaluate": "other"}
PROGRESS_EVERY = 0.2            # seconds between two progress writes of one job

Report = Callable[[float, str], None]
Runner = Callable[[Home, sqlite_utils.Database, jobs.Job, Report], Any]


def uploads(home: Home) -> Path:
    """Where uploaded kits wait for their import job: inside the home (a refused kit is moved
    to quarantine/ by a rename), but not in staging/, which every import empties first."""
    return home.root / "uploads"


def _run_import(home: Home, db: sqlite_utils.Database, job: jobs.Job, report: Report) -> Any:
    from appliance.importing.pipeline import ImportOptions, import_kit
    from appliance.registry.autoseed import autoseed
    path = Path(job.params["path"])
    size = max(1, int(job.params.get("size") or path.stat().st_size))
    done = 0

    def advance(n: int) -> None:
        nonlocal done
        done += n
        report(min(0.99, done / size), f"verifying and staging {job.params.get('filename')}: {done} of {size} bytes")

    try:
        report(0.0, f"waiting for the import lock ({job.params.get('filename')})")
        outcome = import_kit(home, path, ImportOptions(progress=advance, actor=job.created_by, wait=3600.0))
        seeded = None
        if outcome.status == "imported":        # as stella import: its images to the local registry, best effort
            report(0.99, "seeding the local registry")
            seeded = autoseed(home, outcome.kit_id)
        return {**outcome.to_dict(), "seed": seeded}
    finally:
        path.unlink(missing_ok=True)        # a refused kit was moved to quarantine/ already


def _run_plan(home: Home, db: sqlite_utils.Database, job: jobs.Job, report: Report) -> Any:
    """``stella plan`` of an uploaded kit (the console asks for it before an import): the upload stays
    for the import the user may then confirm; a kit the import would refuse is deleted (the job fails
    with the refusal; nothing is quarantined by a plan)."""
    from appliance.plan import service as plan
    from appliance.plan.report import report as lines
    path = Path(job.params["path"])
    report(0.1, f"planning {job.params.get('filename')}: verifying it and importing it into a scratch copy")
    try:
        result = plan.plan_kit(home, path, actor=job.created_by, wait=3600.0)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return {**result.to_dict(), "kit": job.params.get("filename"), "exitCode": 1 if result.verdicts_change else 0,
            "verdictsChanging": sum(1 for i in result.impacts if i.changes_verdict), "report": list(lines(result))}


def _run_deploy(home: Home, db: sqlite_utils.Database, job: jobs.Job, report: Report) -> Any:
    from appliance.deploy.errors import DeployFailed
    from appliance.runs import deploying
    report(0.1, f"deploying {job.params['promotion']} to {job.environment}")
    result = deploying.deploy(home, db, job.params["promotion"], users.get(db, job.created_by),
                              progress=_steps(db, job))
    if not result.ok:
        raise _Failed(DeployFailed(result.message), result.to_dict())
    return result.to_dict()


def _steps(db: sqlite_utils.Database, job: jobs.Job) -> Report:
    """Progress for a deploy's few, long steps: each one written (not thinned out like an import's
    per-entry progress), best effort."""
    def step(fraction: float, message: str) -> None:
        with contextlib.suppress(sqlite3.OperationalError):
            jobs.progress(db, job.id, fraction, message)
    return step


def _run_rollback(home: Home, db: sqlite_utils.Database, job: jobs.Job, report: Report) -> Any:
    from appliance.deploy.errors import DeployFailed
    from appliance.deploy.rollback import rollback
    from appliance.promotions import store
    report(0.1, f"rolling back {job.environment}")
    outcome, result = rollback(home, db, job.params["environment"], job.params.get("to"),
                               job.params.get("reason") or "", users.get(db, job.created_by),
                               progress=_steps(db, job))
    out = {"promotion": store.get(db, outcome.promotion.id).to_dict(),
           "deployment": result.to_dict() if result else None}
    if result is not None and not result.ok:
        raise _Failed(DeployFailed(result.message), out)
    return out


def _run_reevaluate(home: Home, db: sqlite_utils.Database, job: jobs.Job, report: Report) -> Any:
    from appliance.promotions import reevaluate
    report(0.1, "re-evaluating deployed and pending promotions")
    results = reevaluate.run(home, db, users.get(db, job.created_by).name)
    changed = [c for c in results if c.before != c.after]
    return {"evaluated": len(results), "changes": [c.to_dict() for c in changed],
            "results": [c.to_dict() for c in results]}


RUNNERS: dict[str, Runner] = {"import": _run_import, "plan": _run_plan, "deploy": _run_deploy,
                              "rollback": _run_rollback,
                              "reevaluate": _run_reevaluate}


class _Failed(Exception):
    """A job that ran to its end and failed, with the result to keep beside its error."""

    def __init__(self, error: StellaError, result: Any) -> None:
        super().__init__(error.message)
        self.error, self.result = error, result


class Worker:
    """The lanes of the service (see the module docstring)."""

    def __init__(self, home: Home) -> None:
        self.home = home
        self._queues: dict[str, queue.Queue[str | None]] = {lane: queue.Queue() for lane in set(LANES.values())}
        self._threads: list[threading.Thread] = []

    def start(self) -> list[str]:
        """Mark the jobs a dead process left as interrupted (their ids), then start the lanes."""
        db = connect(self.home.db_path)
        try:
            interrupted = jobs.interrupt_orphans(db)
        finally:
            db.close()
        for lane, q in self._queues.items():
            t = threading.Thread(target=self._loop, args=(q,), name=f"stella-jobs-{lane}", daemon=True)
            t.start()
            self._threads.append(t)
        return interrupted

    def stop(self, timeout: float = 5.0) -> None:
        for q in self._queues.values():
            q.put(None)
        for t in self._threads:
            t.join(timeout)

    def submit(self, job: jobs.Job) -> None:
        self._queues[LANES[job.kind]].put(job.id)

    def _loop(self, q: queue.Queue[str | None]) -> None:
        while (job_id := q.get()) is not None:
            try:
                self._run(job_id)
            except Exception:            # never let one job stop the lane
                log.exception("job %s", job_id)

    def _run(self, job_id: str) -> None:
        db = connect(self.home.db_path)
        try:
            job = jobs.get(db, job_id)
            jobs.started(db, job_id)
            last = 0.0

            def report(fraction: float, message: str) -> None:
                nonlocal last
                if time.monotonic() - last < PROGRESS_EVERY and fraction < 0.99:
                    return
                last = time.monotonic()
                with contextlib.suppress(sqlite3.OperationalError):     # progress is best effort
                    jobs.progress(db, job_id, fraction, message)

            try:
                result = RUNNERS[job.kind](self.home, db, job, report)
            except _Failed as exc:
                jobs.failed(db, job_id, exc.error.kind, exc.error.message, exc.result)
            except StellaError as exc:
                jobs.failed(db, job_id, exc.kind, _message(exc))
            except Exception as exc:
                log.exception("job %s", job_id)
                jobs.failed(db, job_id, "internal-error", f"{type(exc).__name__}: {exc}")
            else:
                jobs.succeeded(db, job_id, result)
        finally:
            db.close()


def _message(exc: StellaError) -> str:
    text = exc.message.replace("\n", " ")
    return f"{text} (entry {exc.entry})" if exc.entry and exc.entry not in text else text
