"""The OpenAPI document a real server publishes is the one checked in (docs/openapi.json)."""

from __future__ import annotations

import json

from tests.appliance.helpers import ROOT
from tests.appliance.web.conftest import Service

CHECKED_IN = ROOT / "docs" / "openapi.json"


def test_the_served_openapi_document_is_the_checked_in_one(service: Service) -> None:
    r = service.client().get("/api/v1/openapi.json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    served = r.json()
    assert served == json.loads(CHECKED_IN.read_text(encoding="utf-8")), (
        "docs/openapi.json is stale: run .venv/bin/python scripts/openapi.py")


def test_the_document_covers_the_resources() -> None:
    doc = json.loads(CHECKED_IN.read_text(encoding="utf-8"))
    paths = doc["paths"]
    for path, methods in {
        "/api/v1/releases": {"get"}, "/api/v1/releases/{ref}": {"get"}, "/api/v1/releases/{ref}/findings": {"get"},
        "/api/v1/environments": {"get"}, "/api/v1/promotions": {"get", "post"},
        "/api/v1/promotions/{promotion_id}": {"get"},
        "/api/v1/promotions/{promotion_id}/approve": {"post"}, "/api/v1/promotions/{promotion_id}/reject": {"post"},
        "/api/v1/promotions/{promotion_id}/evaluate": {"post"}, "/api/v1/promotions/{promotion_id}/cancel": {"post"},
        "/api/v1/promotions/{promotion_id}/evidence": {"get"}, "/api/v1/whereis": {"get"}, "/api/v1/drift": {"get"},
        "/api/v1/audit": {"get"}, "/api/v1/audit/verify": {"post"}, "/api/v1/status": {"get"},
    }.items():
        assert methods <= set(paths.get(path, {})), path
    # request bodies are described (pydantic models), so a script writer sees the fields
    body = paths["/api/v1/promotions"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    model = doc["components"]["schemas"][body.rsplit("/", 1)[1]]
    assert set(model["required"]) == {"release", "environment", "reason"}
    listing = {p["name"] for p in paths["/api/v1/promotions"]["get"]["parameters"]}
    assert {"limit", "cursor", "state", "environment", "order"} <= listing
