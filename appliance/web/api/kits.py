"""Kits: ``GET /kits`` (``stella kits`` with the advisory freshness ``stella status`` gives)
and ``POST /kits`` (upload, then ``stella import`` as a job). docs/api.md "Jobs".

The upload is the request body (``application/octet-stream``; the file's name in the
``filename`` query parameter), streamed to a file in the home's ``uploads/`` folder (at
most ``STELLA_MAX_UPLOAD`` bytes, default 64 GiB: 413 otherwise), then imported by a job
running the same function as ``stella import``, as the caller (admin role). Its refusals
end the job ``failed`` with the kind the CLI prints (e.g. ``digest-mismatch``); a refused
kit lands in quarantine/ as with the CLI. ``POST /kits/plan`` takes the same upload and
answers what ``stella plan --json`` prints (nothing imported, the upload deleted).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlite_utils
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from appliance import jobs, kits, status
from appliance.home import Home
from appliance.plan import service as plan
from appliance.web import uploads
from appliance.web.api.jobs import queue
from appliance.web.caller import Caller
from appliance.web.deps import caller, database, home
from appliance.web.errors import HTTPProblem
from kit.timeutil import now

router = APIRouter(tags=["kits"])

@router.get("/kits")
def list_kits(db: sqlite_utils.Database = Depends(database), who: Caller = Depends(caller)) -> dict[str, Any]:
    """Imported kits newest first (``active``: the highest sequence of its channel), the active
    sequence per channel, and per advisory source its newest snapshot and age in days."""
    rows, active = kits.listing(db)
    return {"kits": rows, "channels": active, "advisories": status.advisory_sources(db, now())}


async def _receive(request: Request, h: Home, filename: str) -> tuple[Path, str, int]:
    """Stream the request body into ``uploads/`` (bounded by ``STELLA_MAX_UPLOAD``): path, safe name, size."""
    limit = uploads.max_upload()
    uploads.refuse_declared(request, limit)
    path, name = uploads.new_path(h, filename)
    size = 0
    try:
        with open(path, "xb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise uploads.too_large(limit)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if size == 0:
            raise HTTPProblem(400, "empty-upload", "no kit in the request body")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, name, size


@router.post("/kits", status_code=202)
async def upload_kit(request: Request, filename: str = Query("upload.stella-kit", max_length=200),
                     h: Home = Depends(home), db: sqlite_utils.Database = Depends(database),
                     who: Caller = Depends(caller)) -> dict[str, Any]:
    """Upload a kit (the raw body) and import it as a job; poll ``GET /jobs/{id}``."""
    jobs.check_import(who.user)
    path, name, size = await _receive(request, h, filename)
    try:
        job = jobs.create(db, "import", who.user.name, {"path": str(path), "filename": name, "size": size})
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return queue(request, job)


@router.post("/kits/plan")
async def plan_kit(request: Request, filename: str = Query("upload.stella-kit", max_length=200),
                   h: Home = Depends(home), who: Caller = Depends(caller)) -> dict[str, Any]:
    """What importing the uploaded kit (the raw body) would change, as ``stella plan --json``;
    nothing changes and the upload is deleted. Same role as an import (admin)."""
    jobs.check_import(who.user)
    path, _name, _size = await _receive(request, h, filename)
    try:
        result = await run_in_threadpool(plan.plan_kit, h, path, actor=who.user.name)
    finally:
        path.unlink(missing_ok=True)
    return {**result.to_dict(), "kit": filename, "exitCode": 1 if result.verdicts_change else 0}
