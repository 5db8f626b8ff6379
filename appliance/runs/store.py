"""Runs and their steps in SQLite (migration 0012): rows in, the planner's state out.

A step row is its latest attempt; ``run_attempts`` keeps every attempt (what the evidence
lists). Callers hold the transaction: each write here is one statement of a transaction
that also records the effect it describes (docs/workflows.md "Crash safety").
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from appliance.runs.errors import UnknownRun
from kit import canonical
from kit.timeutil import format_time, parse_time
from kit.workflow.plan import RunState, Status, StepState

FINAL_RUN_STATES = ("succeeded", "failed", "cancelled")


@dataclass(frozen=True)
class Run:
    id: str
    promotion_id: str
    environment: str
    release: str
    template: str                   # digest
    template_name: str
    state: str
    cancelled: bool
    cancel_reason: str | None
    started_by: str
    created_at: str
    finished_at: str | None
    wake_at: str | None
    packet: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINAL_RUN_STATES

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "promotion": self.promotion_id, "environment": self.environment,
                "release": self.release, "template": {"name": self.template_name, "digest": self.template},
                "state": self.state, "cancelled": self.cancelled, "cancelReason": self.cancel_reason,
                "startedBy": self.started_by, "createdAt": self.created_at, "finishedAt": self.finished_at,
                "wakeAt": self.wake_at, "evidence": {"type": "workflow_run", "sha256": self.packet} if self.packet
                else None}


@dataclass(frozen=True)
class StepRow:
    run_id: str
    step: str
    status: str
    attempt: int
    started_at: str | None
    finished_at: str | None
    outputs: dict[str, Any] = field(default_factory=dict)
    message: str | None = None
    idem_key: str | None = None
    lease_owner: str | None = None
    lease_expires: str | None = None
    inputs_sha256: str | None = None
    log_sha256: str | None = None
    log_bytes: int | None = None

    def state(self) -> StepState:
        return StepState(Status(self.status), self.attempt, _time(self.started_at), _time(self.finished_at),
                         self.outputs)

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "status": self.status, "attempt": self.attempt, "startedAt": self.started_at,
                "finishedAt": self.finished_at, "outputs": self.outputs, "message": self.message,
                "idempotencyKey": self.idem_key, "lease": ({"owner": self.lease_owner, "expires": self.lease_expires}
                                                           if self.lease_owner else None),
                "inputsSha256": self.inputs_sha256, "log": ({"sha256": self.log_sha256, "bytes": self.log_bytes}
                                                            if self.log_sha256 else None)}


def _time(text: str | None) -> dt.datetime | None:
    return parse_time(text) if text else None


_RUN_COLS = ("id, promotion_id, environment, release, template, template_name, state, cancelled, cancel_reason, "
             "started_by, created_at, finished_at, wake_at, packet")
_STEP_COLS = ("run_id, step, status, attempt, started_at, finished_at, outputs, message, idem_key, lease_owner, "
              "lease_expires, inputs_sha256, log_sha256, log_bytes")


def _run(row: tuple[Any, ...]) -> Run:
    values = list(row)
    values[7] = bool(values[7])
    return Run(*values)


def _step(row: tuple[Any, ...]) -> StepRow:
    values = list(row)
    values[6] = json.loads(values[6])
    return StepRow(*values)


def next_id(db: sqlite_utils.Database) -> str:
    count = db.execute("SELECT count(*) FROM runs").fetchone()[0]
    return f"R-{count + 1:04d}"


def insert(db: sqlite_utils.Database, run: Run, steps: list[str]) -> None:
    db.execute(f"INSERT INTO runs ({_RUN_COLS}) VALUES ({', '.join('?' * 14)})",
               [run.id, run.promotion_id, run.environment, run.release, run.template, run.template_name, run.state,
                int(run.cancelled), run.cancel_reason, run.started_by, run.created_at, run.finished_at, run.wake_at,
                run.packet])
    for step in steps:
        db.execute("INSERT INTO run_steps (run_id, step, status) VALUES (?, ?, 'pending')", [run.id, step])


def get(db: sqlite_utils.Database, run_id: str) -> Run:
    row = db.execute(f"SELECT {_RUN_COLS} FROM runs WHERE id = ?", [run_id]).fetchone()
    if row is None:
        raise UnknownRun(f"unknown run {run_id!r} (stella run list shows them)")
    return _run(row)


def of_promotion(db: sqlite_utils.Database, promotion_id: str) -> Run | None:
    row = db.execute(f"SELECT {_RUN_COLS} FROM runs WHERE promotion_id = ?", [promotion_id]).fetchone()
    return _run(row) if row else None


def listing(db: sqlite_utils.Database, where: str = "", params: list[Any] | None = None,
            limit: int = 100) -> list[Run]:
    rows = db.execute(f"SELECT {_RUN_COLS} FROM runs {where} ORDER BY created_at DESC, id DESC LIMIT ?",
                      [*(params or []), limit])
    return [_run(r) for r in rows]


def unfinished(db: sqlite_utils.Database) -> list[str]:
    return [r[0] for r in db.execute("SELECT id FROM runs WHERE state = 'running' ORDER BY id")]


def steps(db: sqlite_utils.Database, run_id: str) -> dict[str, StepRow]:
    rows = db.execute(f"SELECT {_STEP_COLS} FROM run_steps WHERE run_id = ?", [run_id])
    return {r[1]: _step(r) for r in rows}


def attempts(db: sqlite_utils.Database, run_id: str) -> list[dict[str, Any]]:
    rows = db.execute("SELECT step, attempt, status, started_at, finished_at, message, outputs, inputs_sha256, "
                      "log_sha256, log_bytes FROM run_attempts WHERE run_id = ? ORDER BY started_at, step, attempt",
                      [run_id])
    return [{"step": r[0], "attempt": r[1], "status": r[2], "startedAt": r[3], "finishedAt": r[4], "message": r[5],
             "outputs": json.loads(r[6]), "inputsSha256": r[7], "log": {"sha256": r[8], "bytes": r[9]} if r[8]
             else None} for r in rows]


def run_state(run: Run, rows: dict[str, StepRow]) -> RunState:
    return RunState({name: row.state() for name, row in rows.items()}, run.cancelled)


def claim(db: sqlite_utils.Database, run_id: str, step: str, attempt: int, *, owner: str | None,
          lease_expires: str | None, at: str, inputs_sha256: str | None, was: StepRow) -> bool:
    """Mark attempt *attempt* of *step* running (with a lease when *owner* executes it).

    Conditional on the row being as *was* saw it, so of two processes planning the same run
    only one starts the attempt; returns whether this one did.
    """
    cur = db.execute("UPDATE run_steps SET status = 'running', attempt = ?, started_at = ?, finished_at = NULL, "
                     "message = NULL, idem_key = ?, lease_owner = ?, lease_expires = ?, inputs_sha256 = ?, "
                     "log_sha256 = NULL, log_bytes = NULL WHERE run_id = ? AND step = ? AND status = ? "
                     "AND attempt = ?",
                     [attempt, at, idem_key(run_id, step, attempt), owner, lease_expires, inputs_sha256, run_id, step,
                      was.status, was.attempt])
    if cur.rowcount != 1:
        return False
    db.execute("INSERT OR REPLACE INTO run_attempts (run_id, step, attempt, status, started_at, inputs_sha256) "
               "VALUES (?, ?, ?, 'running', ?, ?)", [run_id, step, attempt, at, inputs_sha256])
    return True


def take_over(db: sqlite_utils.Database, run_id: str, step: str, *, owner: str | None, lease_expires: str | None,
              was: StepRow) -> bool:
    """Hold the lease of a running attempt (re-attach or inspect after its holder died, or
    look at a waiting step again); conditional like :func:`claim`."""
    cur = db.execute("UPDATE run_steps SET lease_owner = ?, lease_expires = ? WHERE run_id = ? AND step = ? "
                     "AND status = 'running' AND attempt = ? AND lease_owner IS ?",
                     [owner, lease_expires, run_id, step, was.attempt, was.lease_owner])
    return cur.rowcount == 1


def idem_key(run_id: str, step: str, attempt: int) -> str:
    return f"{run_id}/{step}/{attempt}"


def park(db: sqlite_utils.Database, run_id: str, step: str, attempt: int, message: str,
         outputs: dict[str, Any] | None = None) -> None:
    """The attempt waits (on people, time or another process): still running, no lease."""
    db.execute("UPDATE run_steps SET message = ?, lease_owner = NULL, lease_expires = NULL, "
               "outputs = coalesce(?, outputs) WHERE run_id = ? AND step = ? AND attempt = ? AND status = 'running'",
               [message, canonical.dumps(outputs).decode() if outputs is not None else None, run_id, step, attempt])


def finish(db: sqlite_utils.Database, run_id: str, step: str, attempt: int, status: Status, at: str, *,
           outputs: dict[str, Any] | None = None, message: str | None = None, log_sha256: str | None = None,
           log_bytes: int | None = None, replay: dict[str, Any] | None = None) -> None:
    """Record the attempt's end (succeeded, failed, cancelled) in the row and the attempts."""
    out = canonical.dumps(outputs or {}).decode()
    again = canonical.dumps(replay).decode() if replay is not None else None
    db.execute("UPDATE run_steps SET status = ?, finished_at = ?, outputs = ?, message = ?, lease_owner = NULL, "
               "lease_expires = NULL, log_sha256 = coalesce(?, log_sha256), log_bytes = coalesce(?, log_bytes), "
               "replay = ? WHERE run_id = ? AND step = ? AND attempt = ?",
               [str(status), at, out, message, log_sha256, log_bytes, again, run_id, step, attempt])
    db.execute("UPDATE run_attempts SET status = ?, finished_at = ?, outputs = ?, message = ?, log_sha256 = ?, "
               "log_bytes = ?, replay = ? WHERE run_id = ? AND step = ? AND attempt = ?",
               [str(status), at, out, message, log_sha256, log_bytes, again, run_id, step, attempt])


def replays(db: sqlite_utils.Database, run_id: str) -> dict[str, dict[str, Any]]:
    """What each finished gate and approval step evaluated (step → replay document)."""
    rows = db.execute("SELECT step, replay FROM run_steps WHERE run_id = ? AND replay IS NOT NULL", [run_id])
    return {r[0]: json.loads(r[1]) for r in rows}


def skip(db: sqlite_utils.Database, run_id: str, step: str, at: str) -> None:
    db.execute("UPDATE run_steps SET status = 'skipped', finished_at = ?, message = 'its condition was false' "
               "WHERE run_id = ? AND step = ? AND status = 'pending'", [at, run_id, step])


def set_state(db: sqlite_utils.Database, run_id: str, state: str, at: dt.datetime,
              wake_at: dt.datetime | None) -> None:
    db.execute("UPDATE runs SET state = ?, finished_at = ?, wake_at = ? WHERE id = ?",
               [state, format_time(at) if state in FINAL_RUN_STATES else None,
                format_time(wake_at) if wake_at else None, run_id])


def mark_cancelled(db: sqlite_utils.Database, run_id: str, reason: str) -> None:
    db.execute("UPDATE runs SET cancelled = 1, cancel_reason = ? WHERE id = ?", [reason, run_id])
