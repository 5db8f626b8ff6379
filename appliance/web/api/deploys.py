"""Deploys and rollbacks as jobs: ``POST /promotions/{id}/deploy`` (``stella deploy ID``) and
``POST /environments/{env}/rollback`` (``stella rollback ENV``). docs/api.md "Jobs".

A deploy already running in the environment is answered at once (409 ``deploy-running``),
and so is what the deploy checks before it changes anything (the promotion, the deployer
role, its state: 404, 403, 409), by the deploy's own check (appliance.deploy.run.check).
The rest of the deploy's refusals end the job ``failed`` with the kind the CLI prints.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils
from fastapi import APIRouter, Body, Depends, Request

from appliance import jobs
from appliance.home import Home
from appliance.web.api.jobs import queue
from appliance.web.caller import Caller
from appliance.web.deps import caller, database, home

router = APIRouter(tags=["deployments"])


@router.post("/promotions/{promotion_id}/deploy", status_code=202)
def deploy(promotion_id: str, request: Request, h: Home = Depends(home),
           db: sqlite_utils.Database = Depends(database), who: Caller = Depends(caller)) -> dict[str, Any]:
    """Deploy an approved promotion (deployer role), health-gated, as a job."""
    return queue(request, jobs.start_deploy(h, db, promotion_id, who.user))


@router.post("/environments/{env_name}/rollback", status_code=202)
def rollback(env_name: str, request: Request, to: str | None = Body(None, embed=True),
             reason: str = Body("", embed=True), h: Home = Depends(home),
             db: sqlite_utils.Database = Depends(database), who: Caller = Depends(caller)) -> dict[str, Any]:
    """Redeploy the previous (or the named ``to``: NAME@VERSION) release through the same gates, as a job."""
    return queue(request, jobs.start_rollback(h, db, env_name, who.user, to, reason))
