"""The executor: advance a run by the planner's word, recording every step's state.

    loop: plan (kit.workflow.plan) → record skips, timeouts, cancellations → start the
          attempts the plan names (claimed with a lease and an idempotency key) → look again
          at attempts that wait (approvals, a deployer, a soak) or whose process died
          → until nothing moves: then sleep to the next wake-up (``block``) or return.

Each transition is one transaction; an act's database effect is committed in the same
transaction as the attempt's end (acts/base.py). A process killed at any point leaves
either the state before a transition or after it; ``stella run resume`` (and ``stella
serve`` at start) advance every unfinished run again, and a step found running under a dead
lease is treated by its type's resume rule: re-run, re-attach, or inspect first.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from appliance import audit, testhooks, users, workflows
from appliance.home import Home
from appliance.promotions import states as pstates, store as pstore
from appliance.runs import evidence, leases, store
from appliance.runs.acts import act_for
from appliance.runs.acts.base import Context, Done, Failed, Outcome, Progress, Waiting
from appliance.runs.store import Run, StepRow
from appliance.store.db import transaction
from kit import canonical
from kit.timeutil import format_time, now as clock_now, parse_time
from kit.workflow.model import Step, Template, format_duration
from kit.workflow.plan import Plan, Status, Verdict, plan
from kit.workflow.steps import REGISTRY

LEASE_SECONDS = 24 * 3600       # the backstop of a lease (leases.py); a step's timeout shortens it
MAX_SLEEP = 5.0                 # a blocked advance looks again at least this often


@dataclass
class Advance:
    """Who advances a run, and how (``block``: sleep through timed waits until the run ends
    or waits on people)."""

    actor: str
    deployer: users.User | None = None
    progress: Progress | None = None
    block: bool = True
    sink: dict[str, Any] = field(default_factory=dict)
    clock: Callable[[], dt.datetime] = clock_now
    sleep: Callable[[float], None] = time.sleep


def log_path(home: Home, run_id: str, step: str, attempt: int) -> Path:
    return home.root / "runs" / run_id / f"{step}.{attempt}.log"


def start(home: Home, db: sqlite_utils.Database, promotion: pstore.Promotion, actor: str,
          at: dt.datetime | None = None) -> Run:
    """A new run of the template *promotion*'s environment runs now (call inside the
    transaction that records the promotion, so neither exists without the other)."""
    in_force = workflows.in_force(db, promotion.environment)
    template = in_force.template
    when = format_time(at or clock_now())
    workflows.store_template(db, template, when)
    run = Run(store.next_id(db), promotion.id, promotion.environment, promotion.release, template.digest,
              template.name, "running", False, None, actor, when, None, None)
    store.insert(db, run, [s.id for s in template.steps])
    audit.append(db, actor, "run.start", {"run": run.id, "promotion": promotion.id, "template": template.digest,
                                          "name": template.name, "origin": in_force.origin}, when)
    return run


def advance(home: Home, db: sqlite_utils.Database, run_id: str, how: Advance) -> Run:
    """Advance *run_id* as far as it goes now (see the module); returns the run as it stands."""
    while True:
        run = store.get(db, run_id)
        if run.finished:
            return run
        template = workflows.by_digest(db, run.template)
        _follow_promotion(db, run, how)
        run = store.get(db, run_id)
        rows = store.steps(db, run.id)
        moment = how.clock()
        decided = plan(template, store.run_state(run, rows), moment)
        moved = _settle(db, run, template, decided, moment)
        if decided.verdict is not Verdict.RUNNING:
            _end(home, db, run, decided.verdict, moment, how.actor)
            continue
        for begin in decided.start:
            moved |= _start(home, db, run, template.step(begin.step), begin.attempt, rows[begin.step], how)
        skip = set(decided.time_out) | set(decided.cancel) | {b.step for b in decided.start}
        waits: list[dt.datetime | None] = []
        for name, row in store.steps(db, run.id).items():
            if row.status == "running" and name not in skip:
                moved_here, until = _look_again(home, db, run, template.step(name), row, how)
                moved |= moved_here
                waits.append(until)
        if moved:
            continue
        wake = min([w for w in [decided.wake_at, *waits] if w is not None], default=None)
        with transaction(db):
            store.set_state(db, run.id, "running", how.clock(), wake)
        if not how.block or wake is None:
            return store.get(db, run.id)
        how.sleep(max(0.0, min(MAX_SLEEP, (wake - how.clock()).total_seconds())))


def _follow_promotion(db: sqlite_utils.Database, run: Run, how: Advance) -> None:
    """A promotion cancelled or superseded elsewhere (``stella promotion cancel``, a newer
    promotion) cancels its run."""
    if run.cancelled:
        return
    p = pstore.get(db, run.promotion_id)
    if p.state in (pstates.CANCELLED, pstates.SUPERSEDED):
        with transaction(db):
            store.mark_cancelled(db, run.id, f"promotion {p.id} was {p.state}")
            audit.append(db, how.actor, "run.cancel", {"run": run.id, "reason": f"promotion {p.state}"},
                         format_time(how.clock()))


def _settle(db: sqlite_utils.Database, run: Run, template: Template, decided: Plan, moment: dt.datetime) -> bool:
    if not (decided.skip or decided.time_out or decided.cancel):
        return False
    when = format_time(moment)
    rows = store.steps(db, run.id)
    with transaction(db):
        for name in decided.skip:
            store.skip(db, run.id, name, when)
        for name in decided.time_out:
            limit = template.step(name).timeout or 0
            store.finish(db, run.id, name, rows[name].attempt, Status.FAILED, when, outputs=rows[name].outputs,
                         message=f"timed out after {format_duration(limit)}")
        for name in decided.cancel:
            store.finish(db, run.id, name, rows[name].attempt, Status.CANCELLED, when, outputs=rows[name].outputs,
                         message=run.cancel_reason or "the run stopped")
    return True


def _end(home: Home, db: sqlite_utils.Database, run: Run, verdict: Verdict, moment: dt.datetime,
         actor: str) -> None:
    """The run's verdict and its sealed evidence; a promotion the run never deployed ends
    with it (cancelled). One transaction."""
    when = format_time(moment)
    with transaction(db):
        store.set_state(db, run.id, str(verdict), moment, None)
        audit.append(db, actor, "run.finish", {"run": run.id, "state": str(verdict)}, when)
        p = pstore.get(db, run.promotion_id)
        if verdict is not Verdict.SUCCEEDED and p.state in (pstates.AWAITING, pstates.APPROVED):
            pstore.transition(db, p.id, p.state, pstates.CANCELLED, actor=actor, at=when,
                              note=f"run {run.id} {verdict}", doing="cancel")
        evidence.seal(home, db, run.id)


def _lease_expiry(step: Step, moment: dt.datetime) -> str:
    seconds = LEASE_SECONDS if step.timeout is None else min(LEASE_SECONDS, step.timeout + 60)
    return format_time(moment + dt.timedelta(seconds=seconds))


def _inputs_digest(run: Run, step: Step, attempt: int) -> str:
    doc = {"run": run.id, "release": run.release, "environment": run.environment, "step": step.id,
           "uses": step.uses, "with": dict(step.settings), "attempt": attempt}
    return "sha256:" + hashlib.sha256(canonical.dumps(doc)).hexdigest()


def _start(home: Home, db: sqlite_utils.Database, run: Run, step: Step, attempt: int, was: StepRow,
           how: Advance) -> bool:
    moment = how.clock()
    with transaction(db):
        won = store.claim(db, run.id, step.id, attempt, owner=leases.me(), lease_expires=_lease_expiry(step, moment),
                          at=format_time(moment), inputs_sha256=_inputs_digest(run, step, attempt), was=was)
    if won:                  # else another process started it: plan again all the same
        _act(home, db, run, step, attempt, moment, how, resumed=False)
    return True


def _look_again(home: Home, db: sqlite_utils.Database, run: Run, step: Step, row: StepRow,
                how: Advance) -> tuple[bool, dt.datetime | None]:
    moment = how.clock()
    if row.lease_owner is not None and leases.alive(row.lease_owner, row.lease_expires, moment):
        return False, None                       # its owner still runs it
    resumed = row.lease_owner is not None        # held by a process that died
    rule = REGISTRY[step.uses].resume
    if resumed and rule == "rerun":
        with transaction(db):
            store.park(db, run.id, step.id, row.attempt, "re-run: the process running it died")
        row = store.steps(db, run.id)[step.id]
    with transaction(db):
        won = store.take_over(db, run.id, step.id, owner=leases.me(), lease_expires=_lease_expiry(step, moment),
                              was=row)
    if not won:
        return True, None
    started = parse_time(row.started_at) if row.started_at else moment
    return _act(home, db, run, step, row.attempt, started, how, resumed=resumed and rule != "rerun")


def _act(home: Home, db: sqlite_utils.Database, run: Run, step: Step, attempt: int, started: dt.datetime,
         how: Advance, *, resumed: bool) -> tuple[bool, dt.datetime | None]:
    """Call the step's act and record what it says; returns (whether the attempt ended, when
    to look again)."""
    log = log_path(home, run.id, step.id, attempt)
    log.parent.mkdir(parents=True, exist_ok=True)
    ctx = Context(home, db, run, step, attempt, store.idem_key(run.id, step.id, attempt), started, how.clock(),
                  how.actor, how.deployer, log, resumed, how.progress, how.sink)
    testhooks.pause(f"run-acting:{step.id}")
    try:
        outcome = act_for(step.uses)(ctx)
    except BaseException as exc:
        with transaction(db):
            store.park(db, run.id, step.id, attempt, f"refused: {getattr(exc, 'message', None) or exc}")
        raise
    if not isinstance(outcome, Waiting):
        testhooks.pause(f"run-acted:{step.id}")
    return _record(db, run, step, attempt, outcome, log, how)


def _record(db: sqlite_utils.Database, run: Run, step: Step, attempt: int, outcome: Outcome, log: Path,
            how: Advance) -> tuple[bool, dt.datetime | None]:
    when = format_time(how.clock())
    if isinstance(outcome, Waiting):
        with transaction(db):
            store.park(db, run.id, step.id, attempt, outcome.message, outcome.outputs)
        return False, outcome.until
    digest, size = _log_digest(log)
    with transaction(db):
        if outcome.effect is not None:
            outcome.effect(db)
        if isinstance(outcome, Done):
            store.finish(db, run.id, step.id, attempt, Status.SUCCEEDED, when, outputs=outcome.outputs,
                         message=outcome.message, log_sha256=digest, log_bytes=size, replay=outcome.replay)
        else:
            assert isinstance(outcome, Failed)
            store.finish(db, run.id, step.id, attempt, Status.FAILED, when, outputs=outcome.outputs,
                         message=outcome.message, log_sha256=digest, log_bytes=size, replay=outcome.replay)
    return True, None


def _log_digest(log: Path) -> tuple[str | None, int | None]:
    try:
        with log.open("rb") as f:
            h = hashlib.sha256()
            size = 0
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
                size += len(chunk)
    except FileNotFoundError:
        return None, None
    return "sha256:" + h.hexdigest(), size


def resume_all(home: Home, db: sqlite_utils.Database, how: Advance) -> list[Run]:
    """Advance every unfinished run once (``stella run resume``, ``stella serve`` at start)."""
    return [advance(home, db, run_id, how) for run_id in store.unfinished(db)]

