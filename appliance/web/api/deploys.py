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

from appliance import environments, jobs
from appliance.deploy import run
from appliance.home import Home
from appliance.promotions import store
from appliance.web.api.jobs import queue
from appliance.web.caller import Caller
from appliance.web.deps import caller, database, home

router = APIRouter(tags=["deployments"])


@router.post("/promotions/{promotion_id}/deploy", status_code=202)
def deploy(promotion_id: str, request: Request, h: Home = Depends(home),
           db: sqlite_utils.Database = Depends(database), who: Caller = Depends(caller)) -> dict[str, Any]:
    """Deploy an approved promotion (deployer role), health-gated, as a job."""
    jobs.check_deploy_free(h, db, store.get(db, promotion_id).environment)
    p = run.check(db, promotion_id, who.user)
    return queue(request, jobs.create(db, "deploy", who.user.name, {"promotion": p.id}, p.environment))


@router.post("/environments/{env_name}/rollback", status_code=202)
def rollback(env_name: str, request: Request, to: str | None = Body(None, embed=True),
             reason: str = Body("", embed=True), h: Home = Depends(home),
             db: sqlite_utils.Database = Depends(database), who: Caller = Depends(caller)) -> dict[str, Any]:
    """Redeploy the previous (or the named ``to``: NAME@VERSION) release through the same gates, as a job."""
    environments.get(db, env_name)           # 404 unknown-environment at once
    jobs.check_deploy_free(h, db, env_name)
    return queue(request, jobs.create(db, "rollback", who.user.name,
                                      {"environment": env_name, "to": to, "reason": reason}, env_name))
