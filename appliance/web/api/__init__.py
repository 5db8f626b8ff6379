"""The JSON API under ``/api/v1`` (docs/api.md; OpenAPI at ``/api/v1/openapi.json``).

One module per resource, each with ``router = APIRouter(tags=[...])``; add it to ROUTERS.
"""

from __future__ import annotations

from fastapi import APIRouter

from appliance.web.api import (
    audit,
    deployments,
    deploys,
    environments,
    jobs,
    kits,
    promotions,
    releases,
    runs,
    session,
    status,
)

ROUTERS: list[APIRouter] = [session.router, releases.router, environments.router, promotions.router,
                            deployments.router, audit.router, status.router]
ROUTERS += [jobs.router, kits.router, deploys.router]       # long work as jobs (appliance/web/jobs.py)
ROUTERS += [runs.router]                                    # workflow runs and the outbox
