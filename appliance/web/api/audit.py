"""The audit log: page through it, verify its hash chain."""

from __future__ import annotations

from typing import Any, Literal

import sqlite_utils
from fastapi import APIRouter, Depends, Query

from appliance import audit as audit_log
from appliance.web.caller import Caller
from appliance.web.deps import caller, database
from appliance.web.paging import PageRequest, check_key, from_fetched, page_request

router = APIRouter(tags=["audit"])


@router.get("/audit")
def list_events(page: PageRequest = Depends(page_request),
                order: Literal["asc", "desc"] = Query("desc", description="desc: newest first; asc: oldest first"),
                db: sqlite_utils.Database = Depends(database), who: Caller = Depends(caller)) -> dict[str, Any]:
    """Audit events by sequence number, newest first by default."""
    check_key(page, int)
    events = audit_log.page(db, after=page.after, limit=page.limit + 1, newest_first=order == "desc")
    return from_fetched(events, page, lambda e: e.seq, lambda e: e.to_dict())


@router.post("/audit/verify")
def verify(db: sqlite_utils.Database = Depends(database), who: Caller = Depends(caller)) -> dict[str, Any]:
    """As ``stella audit verify --json``: walk the hash chain, name every edited, deleted or
    reordered event (``ok`` false is an answer: the status is 200)."""
    return audit_log.verification(db)
