"""Long work from the console: deploy a promotion as a job, and watch a job's progress
(htmx polls a fragment; without JavaScript, a refresh link). Kits are uploaded by the
kits page's script straight to ``POST /api/v1/kits`` (the API's upload-and-import job).

A deploy request makes the checks the API makes before queuing (appliance.jobs and
appliance.deploy.run: a deploy already running in the environment, the promotion, the
deployer role, its state) and queues the same job for the service's worker.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

import sqlite_utils
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from appliance import jobs
from appliance.home import Home
from appliance.web.caller import Caller
from appliance.web.console import upload, views
from appliance.web.console.render import render
from appliance.web.deps import borrow, caller, database, home, maybe_caller, viewer
from appliance.web.errors import for_error
from kit.errors import StellaError

router = APIRouter(include_in_schema=False)
DB = Annotated[sqlite_utils.Database, Depends(database)]
Who = Annotated[Caller | None, Depends(maybe_caller)]
Acting = Annotated[Caller, Depends(caller)]
HomeDir = Annotated[Home, Depends(home)]
Viewer = Annotated[Caller | None, Depends(viewer)]


@router.post("/promotions/{promotion_id}/deploy")
def deploy(promotion_id: str, request: Request, h: HomeDir, db: DB, acting: Acting) -> Response:
    try:
        job = jobs.start_deploy(h, db, promotion_id, acting.user)
    except StellaError as exc:
        status, body = for_error(exc)
        return render(request, "promotion.html", db, acting, status=status, problem=body["error"],
                      **views.promotion_page(db, promotion_id))
    request.app.state.worker.submit(job)
    return RedirectResponse(f"/jobs/{quote(job.id)}", status_code=303)


@router.post("/environments/{env_name}/rollback")
def rollback(env_name: str, request: Request, h: HomeDir, db: DB, acting: Acting, reason: str = Form("")) -> Response:
    """Redeploy the environment's previous release (``stella rollback ENV``) as a job, as the API does."""
    try:
        job = jobs.start_rollback(h, db, env_name, acting.user, None, reason)
    except StellaError as exc:
        status, body = for_error(exc)
        return render(request, "pipeline.html", db, acting, status=status, problem=body["error"], **views.pipeline(db))
    request.app.state.worker.submit(job)
    return RedirectResponse(f"/jobs/{quote(job.id)}", status_code=303)


@router.post("/reevaluate")
def reevaluate(request: Request, db: DB, acting: Acting) -> Response:
    """``stella reevaluate`` as a job: the gates of every deployed or pending promotion, again."""
    job = jobs.create(db, "reevaluate", acting.user.name, {})
    request.app.state.worker.submit(job)
    return RedirectResponse(f"/jobs/{quote(job.id)}", status_code=303)


@router.get("/jobs")
def job_list(request: Request, db: DB, who: Who) -> Response:
    if who is None:
        return RedirectResponse("/login?next=%2Fjobs", status_code=303)
    return render(request, "jobs.html", db, who, jobs=[j.to_dict() for j in jobs.listing(db, 100)])


@router.get("/jobs/{job_id}")
def job_page(job_id: str, request: Request, db: DB, who: Who) -> Response:
    if who is None:
        return RedirectResponse(f"/login?next={quote('/jobs/' + job_id, safe='')}", status_code=303)
    return render(request, "job.html", db, who, job=jobs.get(db, job_id).to_dict())


@router.get("/jobs/{job_id}/progress")
def job_progress(job_id: str, request: Request, db: DB, who: Acting) -> Response:
    """The progress fragment htmx swaps in every second until the job is done."""
    return render(request, "_job.html", None, who, job=jobs.get(db, job_id).to_dict())


def _queue_plan(request: Request, who: Caller, received: upload.Received) -> jobs.Job:
    with borrow(request) as db:
        return jobs.create(db, "plan", who.user.name, {"path": str(received.path), "filename": received.name,
                                                       "size": received.size})


@router.post("/kits/upload")
async def upload_kit(request: Request, h: HomeDir, who: Viewer) -> Response:
    """Upload a kit (``upload.receive``) and plan its import as a job: the job's page shows what
    the import would change (``stella plan``) and asks to confirm. The role is checked before a
    byte is stored."""
    if who is None:
        return RedirectResponse("/login?next=%2Fkits", status_code=303)
    jobs.check_import(who.user)
    received = await upload.receive(request, h, who)
    try:
        job = await run_in_threadpool(_queue_plan, request, who, received)
    except BaseException:
        received.path.unlink(missing_ok=True)
        raise
    request.app.state.worker.submit(job)
    return RedirectResponse(f"/jobs/{quote(job.id)}", status_code=303)


@router.post("/kits/plans/{job_id}/import")
def import_planned(job_id: str, request: Request, db: DB, acting: Acting) -> Response:
    """Confirmed after the plan: the same import job as ``POST /api/v1/kits``, on the planned upload."""
    try:
        job = jobs.import_planned(db, job_id, acting.user)
    except StellaError as exc:
        return _job_problem(request, db, acting, job_id, exc)
    request.app.state.worker.submit(job)
    return RedirectResponse(f"/jobs/{quote(job.id)}", status_code=303)


@router.post("/kits/plans/{job_id}/discard")
def discard_planned(job_id: str, request: Request, db: DB, acting: Acting) -> Response:
    try:
        jobs.discard_planned(db, job_id, acting.user)
    except StellaError as exc:
        return _job_problem(request, db, acting, job_id, exc)
    return RedirectResponse("/kits", status_code=303)


def _job_problem(request: Request, db: sqlite_utils.Database, who: Caller, job_id: str, exc: StellaError) -> Response:
    status, body = for_error(exc)
    return render(request, "job.html", db, who, status=status, problem=body["error"],
                  job=jobs.get(db, job_id).to_dict())
