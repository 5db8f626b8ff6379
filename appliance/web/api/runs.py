"""Workflow runs and the outbox: ``GET /runs``, ``GET /runs/{id}``, a step's log, cancel,
resume, ``GET /outbox`` (docs/api.md "Runs").

Each route calls what ``stella run list|show|logs|cancel|resume`` calls, as the caller:
cancel's rule (the promotion's requester or an admin) is checked in
appliance.runs.cancelling, never here. A resume advances the run once without sleeping
(``block=False``): a soak or a retry is left to the service's run waker
(appliance/web/runwaker.py), so no request waits through one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlite_utils
from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from appliance.home import Home
from appliance.runs import cancelling, engine, outbox, report, store
from appliance.runs.errors import RunFinished
from appliance.web.caller import Caller
from appliance.web.deps import caller, database, home
from appliance.web.errors import HTTPProblem
from appliance.web.paging import PageRequest, check_key, from_fetched, page_request

router = APIRouter(tags=["runs"])
STATES = ("running", "succeeded", "failed", "cancelled")
CHUNK = 1 << 16


class CancelRun(BaseModel):
    reason: str = ""


@router.get("/runs")
def list_runs(page: PageRequest = Depends(page_request), state: str | None = None, promotion: str | None = None,
              environment: str | None = None, db: sqlite_utils.Database = Depends(database),
              who: Caller = Depends(caller)) -> dict[str, Any]:
    """Runs, newest first, optionally in one state, of one promotion and/or environment."""
    if state is not None and state not in STATES:
        raise HTTPProblem(400, "bad-request", f"state must be one of {', '.join(STATES)}")
    check_key(page, str, str)
    where, args = runs_where(state, promotion, environment, page.after)
    rows = store.listing(db, where, args, page.limit + 1)
    return from_fetched(rows, page, lambda r: [r.created_at, r.id], lambda r: r.to_dict())


def runs_where(state: str | None, promotion: str | None, environment: str | None,
               after: list[str] | None) -> tuple[str, list[Any]]:
    """The WHERE clause of store.listing for these filters, starting after the key *after*
    (``[createdAt, id]`` of the last run handed out: the listing's own order)."""
    parts: list[str] = []
    args: list[Any] = []
    for column, value in (("state", state), ("promotion_id", promotion), ("environment", environment)):
        if value:
            parts.append(f"{column} = ?")
            args.append(value)
    if after is not None:
        parts.append("(created_at < ? OR (created_at = ? AND id < ?))")
        args += [after[0], after[0], after[1]]
    return ("WHERE " + " AND ".join(parts)) if parts else "", args


@router.get("/runs/{run_id}")
def show_run(run_id: str, h: Home = Depends(home), db: sqlite_utils.Database = Depends(database),
             who: Caller = Depends(caller)) -> dict[str, Any]:
    """The run as ``stella run show --json``: the run, every step (state, attempt, times,
    outputs, what it waits for, log digest and tail) and every attempt; 404 ``unknown-run``."""
    return report.show(h, db, run_id)


def log_file(h: Home, db: sqlite_utils.Database, run_id: str, step: str, attempt: int | None) -> Path | None:
    """The log of *attempt* (default: the latest) of *step*; None when it wrote none yet.

    Raises:
        UnknownRun: no such run (404).
        HTTPProblem: 404 ``unknown-step`` for a step or attempt the run does not have.
    """
    rows = store.steps(db, store.get(db, run_id).id)
    if step not in rows:
        raise HTTPProblem(404, "unknown-step", f"run {run_id} has no step {step!r} (steps: {', '.join(sorted(rows))})")
    latest = rows[step].attempt
    n = latest if attempt is None else attempt
    if n < 1 or n > latest:
        raise HTTPProblem(404, "unknown-step", f"step {step!r} of {run_id} has no attempt {n} "
                                               f"({'attempts 1..' + str(latest) if latest else 'it has not started'})")
    path = engine.log_path(h, run_id, step, n)
    return path if path.is_file() else None


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        yield from iter(lambda: f.read(CHUNK), b"")


@router.get("/runs/{run_id}/steps/{step}/log", response_class=StreamingResponse,
            responses={200: {"content": {"text/plain": {}}, "description": "the step's whole log, as kept"}})
def step_log(run_id: str, step: str, attempt: int | None = Query(None, description="which attempt (default: the "
                                                                                    "latest)"),
             h: Home = Depends(home), db: sqlite_utils.Database = Depends(database),
             who: Caller = Depends(caller)) -> StreamingResponse:
    """The whole log of a step's attempt (``stella run logs``), streamed as text; empty when it
    wrote nothing yet; 404 ``unknown-run`` / ``unknown-step``."""
    path = log_file(h, db, run_id, step, attempt)
    body: Iterator[bytes] = _chunks(path) if path is not None else iter([b""])
    return StreamingResponse(body, media_type="text/plain; charset=utf-8")


@router.post("/runs/{run_id}/cancel")
def cancel_run(run_id: str, body: CancelRun | None = None, h: Home = Depends(home),
               db: sqlite_utils.Database = Depends(database), who: Caller = Depends(caller)) -> dict[str, Any]:
    """Cancel a run (its promotion's requester or an admin; a reason is required): a pending
    promotion is cancelled with it, steps meant for cancellation run; 409 ``run-finished``."""
    run = store.get(db, run_id)
    if run.finished:
        raise RunFinished(f"run {run_id} has ended ({run.state})")
    cancelling.cancel(h, db, run, who.user, body.reason if body else "")
    return report.show(h, db, run_id)


@router.post("/runs/{run_id}/resume")
def resume_run(run_id: str, h: Home = Depends(home), db: sqlite_utils.Database = Depends(database),
               who: Caller = Depends(caller)) -> dict[str, Any]:
    """Advance the run once now (``stella run resume RUN-ID --no-wait``), as the caller; a soak
    or retry is not waited through here (the service's run waker looks again when it is due),
    and a deploy step keeps waiting for ``POST /promotions/{id}/deploy``; 409 ``run-finished``."""
    run = store.get(db, run_id)
    if run.finished:
        raise RunFinished(f"run {run_id} has ended ({run.state})")
    engine.advance(h, db, run_id, engine.Advance(who.user.name, block=False))
    return report.show(h, db, run_id)


@router.get("/outbox")
def list_outbox(page: PageRequest = Depends(page_request), run: str | None = None,
                db: sqlite_utils.Database = Depends(database), who: Caller = Depends(caller)) -> dict[str, Any]:
    """What ``notify`` steps said, newest first (optionally of one run): severity, message,
    webhook and its delivery."""
    check_key(page, int)
    rows = outbox.listing(db, page.limit + 1, page.after, run)
    return from_fetched(rows, page, lambda e: e.id, lambda e: e.to_dict())
