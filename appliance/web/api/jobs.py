"""Jobs: ``GET /jobs`` (newest first, paged), ``GET /jobs/{id}`` (state, progress, result or
error), and ``POST /reevaluate`` (``stella reevaluate`` as a job). docs/api.md "Jobs"."""

from __future__ import annotations

from typing import Any

import sqlite_utils
from fastapi import APIRouter, Depends, Request

from appliance import jobs
from appliance.web.caller import Caller
from appliance.web.deps import caller, database
from appliance.web.paging import PageRequest, check_key, from_fetched, page_request

router = APIRouter(tags=["jobs"])


def queue(request: Request, job: jobs.Job) -> dict[str, Any]:
    """Hand *job* to the service's worker; the 202 body: the job as ``GET /jobs/{id}`` shows it."""
    request.app.state.worker.submit(job)
    return job.to_dict()


@router.get("/jobs")
def list_jobs(page: PageRequest = Depends(page_request), db: sqlite_utils.Database = Depends(database),
              who: Caller = Depends(caller)) -> dict[str, Any]:
    """Jobs, newest first (``{"items", "next"}``)."""
    check_key(page, str)
    rows = jobs.listing(db, page.limit + 1, page.after)
    return from_fetched(rows, page, lambda j: j.id, lambda j: j.to_dict())


@router.get("/jobs/{job_id}")
def get_job(job_id: str, db: sqlite_utils.Database = Depends(database),
            who: Caller = Depends(caller)) -> dict[str, Any]:
    """One job: state (queued, running, succeeded, failed, interrupted), progress, result or error."""
    return jobs.get(db, job_id).to_dict()


@router.post("/reevaluate", status_code=202)
def reevaluate(request: Request, db: sqlite_utils.Database = Depends(database),
               who: Caller = Depends(caller)) -> dict[str, Any]:
    """``stella reevaluate`` as a job: the gates of every deployed or pending promotion, again."""
    return queue(request, jobs.create(db, "reevaluate", who.user.name, {}))
