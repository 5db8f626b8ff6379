"""Releases, environments, audit, status, whereis and drift through the API of a real server;
paging, and the envelope of malformed and unauthenticated requests."""

from __future__ import annotations

import json

import httpx

from tests.appliance.web.conftest import Service


def _walk(client: httpx.Client, path: str, limit: int, **params: str) -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    cursor = None
    while True:
        page = client.get(path, params={**params, "limit": limit, **({"cursor": cursor} if cursor else {})}).json()
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next"]
        if cursor is None:
            return items


def test_releases_paged_shown_and_their_findings(service: Service) -> None:
    c = service.bearer("erin")
    everything = c.get("/api/v1/releases").json()
    assert [r["release"] for r in everything["items"]] == ["web@1.0.0", "web@2.0.0"] and everything["next"] is None
    assert _walk(c, "/api/v1/releases", 1) == everything["items"]
    cli = service.stella("release", "list", "--json")
    assert json.loads(cli.output) == everything["items"]

    shown = c.get("/api/v1/releases/web@2.0.0").json()
    assert shown["release"] == "web@2.0.0" and shown["document"]["components"][0]["digest"].startswith("sha256:")
    assert shown["ecosystems"] == [{"ecosystem": "pypi", "components": 2}]
    findings = c.get("/api/v1/releases/web@2.0.0/findings").json()
    assert [f["id"] for f in findings["findings"]] == ["CVE-2026-0001"]
    cli = service.stella("findings", "web@2.0.0", "--json")
    assert json.loads(cli.output) == findings
    r = c.get("/api/v1/releases/nope@1")
    assert r.status_code == 404 and r.json()["error"]["kind"] == "unknown-release"


def test_environments_in_order_with_stop_the_line(service: Service) -> None:
    admin, bob = service.bearer("admin"), service.bearer("bob")
    envs = bob.get("/api/v1/environments").json()
    assert [e["name"] for e in envs["items"]] == ["dev", "stage", "prod"]
    prod = envs["items"][2]
    assert prod["requiredApprovals"] == 2 and prod["separationOfDuties"] is True and envs["stopTheLine"] is None
    r = bob.post("/api/v1/stop-the-line", json={"reason": "incident"})
    assert r.status_code == 403 and r.json()["error"]["kind"] == "missing-role"
    r = admin.post("/api/v1/stop-the-line", json={"reason": "incident 42"})
    assert r.status_code == 200 and r.json()["stopTheLine"]["by"] == "admin"
    assert bob.get("/api/v1/environments").json()["stopTheLine"]["reason"] == "incident 42"
    r = admin.post("/api/v1/environments/prod/freeze", json={"start": "2026-01-01T00:00:00", "duration": "1h",
                                                             "reason": "audit"})
    assert r.status_code == 201
    window = r.json()["id"]
    assert [w["id"] for w in bob.get("/api/v1/environments/prod").json()["freezeWindows"]] == [window]
    assert admin.delete(f"/api/v1/freeze-windows/{window}").status_code == 200
    assert admin.post("/api/v1/stop-the-line/resume", json={}).json() == {"stopTheLine": None}
    r = admin.post("/api/v1/stop-the-line/resume", json={})
    assert r.status_code == 409 and r.json()["error"]["kind"] == "not-stopped"


def test_audit_pages_newest_first_and_verifies(service: Service) -> None:
    c = service.bearer("erin")
    newest = c.get("/api/v1/audit", params={"limit": 3}).json()
    seqs = [e["seq"] for e in newest["items"]]
    assert seqs == sorted(seqs, reverse=True) and newest["next"]
    walked = [e["seq"] for e in _walk(c, "/api/v1/audit", 7, order="asc")]
    assert walked == list(range(1, len(walked) + 1))
    verified = c.post("/api/v1/audit/verify").json()
    assert verified["ok"] is True and verified["events"] >= len(walked) and verified["problems"] == []


def test_status_whereis_and_drift_without_targets(service: Service) -> None:
    c = service.bearer("erin")
    status = c.get("/api/v1/status").json()
    assert status["lastImport"]["name"] == "site"
    assert c.get("/api/v1/whereis").json() == {"items": [], "next": None}
    assert c.get("/api/v1/drift").json() == {"match": True, "targets": [], "unreachable": []}
    r = c.get("/api/v1/environments/moon/drift")
    assert r.status_code == 404 and r.json()["error"]["kind"] == "unknown-target"     # an unknown name, as exit 2


def test_malformed_and_unauthenticated_requests_get_the_envelope(service: Service) -> None:
    anon, c = service.client(), service.bearer("alice")
    r = anon.get("/api/v1/promotions")
    assert r.status_code == 401 and r.json()["error"]["kind"] == "not-authenticated"
    for params, kind in (({"limit": 0}, "bad-limit"), ({"limit": 501}, "bad-limit"), ({"cursor": "!!"}, "bad-cursor"),
                         ({"limit": "x"}, "bad-request")):
        r = c.get("/api/v1/promotions", params=params)
        assert r.status_code == 400 and r.json()["error"]["kind"] == kind, (params, r.text)
    r = c.get("/api/v1/releases", params={"cursor": c.get("/api/v1/audit", params={"limit": 1}).json()["next"]})
    assert r.status_code == 400 and r.json()["error"]["kind"] == "bad-cursor"
    r = c.post("/api/v1/promotions", json={"release": 1})
    assert r.status_code == 400 and r.json()["error"]["kind"] == "bad-request"
    assert "body.environment" in r.json()["error"]["message"]
