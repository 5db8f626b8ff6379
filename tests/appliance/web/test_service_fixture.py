"""The shared fixture itself: a real server on loopback over the site home."""

from __future__ import annotations

from tests.appliance.web.conftest import Service


def test_serves_openapi_on_loopback(service: Service) -> None:
    assert service.base_url.startswith("http://127.0.0.1:")
    r = service.client().get("/api/v1/openapi.json")
    assert r.status_code == 200
    assert r.json()["info"]["title"] == "Stella Ops appliance"


def test_unauthenticated_api_is_401(service: Service) -> None:
    r = service.client().get("/api/v1/me")
    assert r.status_code == 401
    assert r.json()["error"]["kind"] == "not-authenticated"


def test_site_home_has_users_and_environments(service: Service) -> None:
    users = service.stella("user", "list", "--json")
    assert users.exit_code == 0, users.output
    assert {u["name"] for u in __import__("json").loads(users.output)} == {
        "admin", "alice", "bob", "carol", "dave", "erin"}
    envs = service.stella("env", "list")
    assert envs.exit_code == 0 and "prod" in envs.output, envs.output
