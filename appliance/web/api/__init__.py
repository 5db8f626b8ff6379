"""The JSON API under ``/api/v1`` (docs/api.md; OpenAPI at ``/api/v1/openapi.json``).

One module per resource, each with ``router = APIRouter(tags=[...])``; add it to ROUTERS.
"""

from __future__ import annotations

from fastapi import APIRouter

from appliance.web.api import session

ROUTERS: list[APIRouter] = [session.router]
