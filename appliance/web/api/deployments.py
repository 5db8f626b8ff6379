"""Where releases run (``stella whereis``) and whether they still run so (``stella drift``)."""

from __future__ import annotations

from typing import Any

import sqlite_utils
from fastapi import APIRouter, Depends, Query

from appliance.deploy import inspect
from appliance.home import Home
from appliance.web.caller import Caller
from appliance.web.deps import caller, database, home

router = APIRouter(tags=["deployments"])


@router.get("/whereis")
def whereis(name: str | None = Query(None, description="NAME or NAME@VERSION (default: every release)"),
            db: sqlite_utils.Database = Depends(database), who: Caller = Depends(caller)) -> dict[str, Any]:
    """Per target (ordered by environment and target): the release the appliance deployed there,
    its deployment, promotion and each service's image pinned by digest."""
    return {"items": inspect.whereis(db, name), "next": None}


@router.get("/drift")
def drift(what: str | None = Query(None, description="an environment or a target (default: every target)"),
          h: Home = Depends(home), db: sqlite_utils.Database = Depends(database),
          who: Caller = Depends(caller)) -> dict[str, Any]:
    """As ``stella drift --json``: each target's running containers and signed sticker compared
    with the deployed lock file, every difference named; ``unreachable`` lists engines that
    did not answer. (``match`` false is an answer, not an error: the status is 200.)"""
    return inspect.drift_report(h, db, what).to_dict()


@router.get("/environments/{name}/drift")
def environment_drift(name: str, h: Home = Depends(home), db: sqlite_utils.Database = Depends(database),
                      who: Caller = Depends(caller)) -> dict[str, Any]:
    """``GET /drift?what=ENV``."""
    return inspect.drift_report(h, db, name).to_dict()
