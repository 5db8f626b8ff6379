"""The console's workflow runs: the runs list, a run's page (its steps as a graph and one
by one: status, attempt, times, what it waits for, outputs, log tail, the full log), the
outbox, and the cancel and resume forms.

Reads go through the functions ``stella run list|show`` call (appliance.runs.store and
report); cancel and resume call what the API calls, as the logged-in user (a no-JavaScript
form post with the hidden CSRF field), so cancel's rule (the requester or an admin) is
appliance.runs.cancelling's; a refusal is shown on the run's page with its kind.
A run's page reads its steps' log files, which change without a database commit, so it is
rendered per request on the thread pool rather than from the snapshot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

import sqlite_utils
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from appliance.home import Home
from appliance.promotions import store as pstore
from appliance.runs import cancelling, engine, outbox, report, store
from appliance.runs.errors import RunFinished
from appliance.web.api.runs import STATES, runs_where
from appliance.web.caller import Caller
from appliance.web.console.render import remembered, render
from appliance.web.deps import caller, database, home, maybe_caller, viewer
from appliance.web.errors import for_error
from appliance.web.paging import decode, encode
from kit.errors import StellaError

router = APIRouter(include_in_schema=False)
DB = Annotated[sqlite_utils.Database, Depends(database)]
Who = Annotated[Caller | None, Depends(maybe_caller)]
Viewer = Annotated[Caller | None, Depends(viewer)]
Acting = Annotated[Caller, Depends(caller)]
HomeDir = Annotated[Home, Depends(home)]
PAGE = 50

NOTICES = {"cancelled": "The run was cancelled.", "resumed": "The run was advanced as far as it goes now."}


def _login(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def levels(steps: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The steps by depth in the DAG (a step one column right of the deepest step it needs),
    each column in template order: the run's graph, read left to right."""
    needs = {s["id"]: list(s["needs"]) for s in steps}
    depth: dict[str, int] = {}

    def of(name: str) -> int:
        if name not in depth:
            depth[name] = 1 + max((of(n) for n in needs.get(name, []) if n in needs), default=-1)
        return depth[name]

    columns: list[list[dict[str, Any]]] = []
    for s in steps:
        d = of(s["id"])
        while len(columns) <= d:
            columns.append([])
        columns[d].append(s)
    return columns


def run_page(home: Home, db: sqlite_utils.Database, run_id: str) -> dict[str, Any]:
    doc = report.show(home, db, run_id)
    run = doc["run"]
    promotion = pstore.get(db, run["promotion"])
    return {**doc, "columns": levels(doc["steps"]), "requester": promotion.requester,
            "promotionState": promotion.state, "outbox": [e.to_dict() for e in outbox.listing(db, 20, run_id=run_id)],
            "finished": run["state"] in store.FINAL_RUN_STATES}


def _run(request: Request, db: sqlite_utils.Database, h: Home, who: Caller, run_id: str, *, status: int = 200,
         notice: str | None = None, problem: dict[str, str] | None = None) -> Response:
    return render(request, "run.html", db, who, status=status, notice=notice, problem=problem,
                  **run_page(h, db, run_id))


@router.get("/runs")
async def run_list(request: Request, who: Viewer, state: str | None = None, after: str | None = None) -> Response:
    if who is None:
        return _login(request)
    chosen = state if state in STATES else None
    key = decode(after) if after else None
    key = key if isinstance(key, list) and len(key) == 2 and all(isinstance(k, str) for k in key) else None

    def context(db: sqlite_utils.Database) -> dict[str, Any]:
        where, args = runs_where(chosen, None, None, key)
        rows = store.listing(db, where, args, PAGE + 1)
        shown = rows[:PAGE]
        return {"runs": [r.to_dict() for r in shown], "state": chosen or "", "states": STATES,
                "next": encode([shown[-1].created_at, shown[-1].id]) if len(rows) > PAGE and shown else None}
    return remembered(request, who, "runs.html", context)


@router.get("/runs/{run_id}")
def run_view(run_id: str, request: Request, h: HomeDir, db: DB, who: Who, done: str | None = None) -> Response:
    if who is None:
        return _login(request)
    return _run(request, db, h, who, run_id, notice=NOTICES.get(done or ""))


def _act(request: Request, db: sqlite_utils.Database, h: Home, acting: Caller, run_id: str, done: str,
         action: Callable[[], object]) -> Response:
    """Run *action* (an appliance call); on success back to the run (303), else its page with the refusal."""
    try:
        action()
    except StellaError as exc:
        status, body = for_error(exc)
        problem = {"kind": body["error"]["kind"], "message": body["error"]["message"]}
        return _run(request, db, h, acting, run_id, status=status, problem=problem)
    return RedirectResponse(f"/runs/{quote(run_id)}?done={done}", status_code=303)


def _unfinished(db: sqlite_utils.Database, run_id: str) -> store.Run:
    run = store.get(db, run_id)
    if run.finished:
        raise RunFinished(f"run {run_id} has ended ({run.state})")
    return run


@router.post("/runs/{run_id}/cancel")
def cancel(run_id: str, request: Request, h: HomeDir, db: DB, acting: Acting, reason: str = Form("")) -> Response:
    store.get(db, run_id)           # an unknown run: the 404 page, not a run page
    return _act(request, db, h, acting, run_id, "cancelled",
                lambda: cancelling.cancel(h, db, _unfinished(db, run_id), acting.user, reason))


@router.post("/runs/{run_id}/resume")
def resume(run_id: str, request: Request, h: HomeDir, db: DB, acting: Acting) -> Response:
    store.get(db, run_id)

    def advance() -> None:
        _unfinished(db, run_id)
        engine.advance(h, db, run_id, engine.Advance(acting.user.name, block=False))
    return _act(request, db, h, acting, run_id, "resumed", advance)


@router.get("/outbox")
async def outbox_page(request: Request, who: Viewer, before: int | None = None) -> Response:
    if who is None:
        return _login(request)

    def context(db: sqlite_utils.Database) -> dict[str, Any]:
        rows = outbox.listing(db, PAGE + 1, before)
        shown = rows[:PAGE]
        return {"entries": [e.to_dict() for e in shown], "next": shown[-1].id if len(rows) > PAGE and shown else None}
    return remembered(request, who, "outbox.html", context)
