"""``stella status``: advisory staleness per source, last import, disk use, unfinished deployments."""

from __future__ import annotations

from typing import Any

import sqlite_utils
from fastapi import APIRouter, Depends

from appliance.home import Home
from appliance.status import summary
from appliance.web.caller import Caller
from appliance.web.deps import caller, database, home
from kit.timeutil import now

router = APIRouter(tags=["status"])


@router.get("/status")
def status(h: Home = Depends(home), db: sqlite_utils.Database = Depends(database),
           who: Caller = Depends(caller)) -> dict[str, Any]:
    """As ``stella status --json``."""
    return summary(h, db, now())
