"""Environments: the pipeline in promotion order; freeze windows and stop-the-line (admin)."""

from __future__ import annotations

from typing import Any

import sqlite_utils
from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from appliance import environments, pipeline
from appliance.web.caller import Caller
from appliance.web.deps import caller, database
from kit.timeutil import now

router = APIRouter(tags=["environments"])


class FreezeRequest(BaseModel):
    """``stella env freeze ENV``: a recurring window (``rrule``) or a one-off (``start``)."""

    rrule: str | None = Field(None, description='RFC 5545 rule, e.g. "FREQ=WEEKLY;BYDAY=FR;BYHOUR=16"')
    start: str | None = Field(None, description="local start YYYY-MM-DDTHH:MM:SS in tz")
    duration: str = Field(description="wall-clock length of each occurrence, e.g. 64h")
    tz: str = "UTC"
    reason: str


class StopRequest(BaseModel):
    reason: str


class ResumeRequest(BaseModel):
    reason: str | None = None


@router.get("/environments")
def list_environments(db: sqlite_utils.Database = Depends(database), who: Caller = Depends(caller)) -> dict[str, Any]:
    """Every environment in promotion order: its configuration, freeze windows (``activeNow``),
    stop-the-line, the release deployed there, each target's release and digests, and the
    pending promotions with approvals ``have/need`` and gate verdicts."""
    return {"items": pipeline.overview(db, now()), "stopTheLine": environments.stop_state(db), "next": None}


@router.get("/environments/{name}")
def show_environment(name: str, db: sqlite_utils.Database = Depends(database),
                     who: Caller = Depends(caller)) -> dict[str, Any]:
    environments.get(db, name)
    return next(e for e in pipeline.overview(db, now()) if e["name"] == name)


@router.post("/environments/{name}/freeze", status_code=201)
def freeze(name: str, body: FreezeRequest, db: sqlite_utils.Database = Depends(database),
           who: Caller = Depends(caller)) -> dict[str, Any]:
    """Add a freeze window (admin role)."""
    ident = environments.freeze(db, name, rrule=body.rrule, start=body.start, duration=body.duration, tz=body.tz,
                                reason=body.reason, actor=who.user)
    return {"id": ident, "environment": name}


@router.delete("/freeze-windows/{window_id}")
def unfreeze(window_id: str, db: sqlite_utils.Database = Depends(database),
             who: Caller = Depends(caller)) -> dict[str, Any]:
    """Remove a freeze window (admin role)."""
    environments.unfreeze(db, window_id, who.user)
    return {"id": window_id, "removed": True}


@router.post("/stop-the-line")
def stop_the_line(body: StopRequest, db: sqlite_utils.Database = Depends(database),
                  who: Caller = Depends(caller)) -> dict[str, Any]:
    """Block every promotion and deployment at once (break-glass; admin role)."""
    environments.stop_the_line(db, body.reason, who.user)
    return {"stopTheLine": environments.stop_state(db)}


@router.post("/stop-the-line/resume")
def resume(body: ResumeRequest | None = None, db: sqlite_utils.Database = Depends(database),
           who: Caller = Depends(caller)) -> dict[str, Any]:
    """Lift stop-the-line (admin role)."""
    environments.resume(db, who.user, body.reason if body else None)
    return {"stopTheLine": None}
