"""Promotions through the JSON API of a real ``stella serve``, and the same misuse through
both faces (CLI and HTTP) refused alike: one service layer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from kit import exitcodes
from tests.appliance.web.conftest import Service


def _cli_promote_to_prod_ready(service: Service, release: str = "web@1.0.0") -> None:
    """dev and stage done by the CLI (promote as alice, mark-deployed as dave), so prod may follow."""
    for env in ("dev", "stage"):
        r = service.stella("promote", release, "--to", env, "--reason", f"to {env}", "--json", user="alice")
        assert r.exit_code == 0, r.output
        pid = json.loads(r.output)["promotion"]["id"]
        r = service.stella("promotion", "mark-deployed", pid, user="dave")
        assert r.exit_code == 0, r.output


def _kind(result: Any) -> str:
    """The error kind of a CLI failure: ``stella approve: error: KIND: message``."""
    line = [x for x in result.output.splitlines() if ": error: " in x][-1]
    return str(line.split(": error: ", 1)[1].split(":", 1)[0])


def _error(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    assert set(body) == {"error"} and {"kind", "message"} <= set(body["error"]), body
    return response.status_code, str(body["error"]["kind"])


def _alice_approves_too(service: Service) -> None:
    """alice also holds the approver role: only separation of duties stops her approving her own."""
    r = service.stella("user", "add", "alice", "--role", "approver", user="admin")
    assert r.exit_code == 0, r.output


@pytest.fixture(scope="module")
def prod_ready(service: Service) -> Service:
    _alice_approves_too(service)
    _cli_promote_to_prod_ready(service)
    return service


def test_a_promotion_flow_alice_requests_bob_and_carol_approve(prod_ready: Service) -> None:
    alice, bob, carol = (prod_ready.login(u) for u in ("alice", "bob", "carol"))
    r = alice.post("/api/v1/promotions", json={"release": "web@1.0.0", "environment": "prod",
                                               "reason": "quarterly release"})
    assert r.status_code == 201, r.text
    created = r.json()
    pid = created["promotion"]["id"]
    assert created["promotion"]["state"] == "awaiting-approval"
    assert created["promotion"]["requester"] == "alice"          # the caller, never a request field
    assert created["decision"].startswith("sha256:") and created["record"]["verdict"] == "fail"

    r = alice.post(f"/api/v1/promotions/{pid}/approve", json={"comment": "mine"})
    assert _error(r) == (403, "separation-of-duties")
    assert "separation of duties" in r.json()["error"]["message"]

    r = bob.post(f"/api/v1/promotions/{pid}/approve", json={"comment": "looks good"})
    assert r.status_code == 200, r.text
    assert r.json()["promotion"]["state"] == "awaiting-approval" and r.json()["autoDeploy"] is None
    assert _error(bob.post(f"/api/v1/promotions/{pid}/approve", json={})) == (422, "already-approved")
    r = carol.post(f"/api/v1/promotions/{pid}/approve")                # the body is optional
    assert r.status_code == 200, r.text
    assert r.json()["promotion"]["state"] == "approved"

    shown = alice.get(f"/api/v1/promotions/{pid}").json()
    assert shown["promotion"]["state"] == "approved"
    assert [(a["user"], a["decision"], a["comment"]) for a in shown["approvals"]] == [
        ("bob", "approve", "looks good"), ("carol", "approve", None)]
    assert [h["to"] for h in shown["history"]] == ["requested", "gates-evaluated", "awaiting-approval", "approved"]
    gates = {g["name"]: g for g in shown["record"]["gates"]}
    assert gates["approvals"]["verdict"] == "pass" and "trace" in gates["policy"]
    assert shown["record"]["verdict"] == "pass" and shown["decision"].startswith("sha256:")

    # the CLI shows the same document
    cli = prod_ready.stella("promotion", "show", pid, "--json")
    assert cli.exit_code == 0 and json.loads(cli.output) == shown

    listed = alice.get("/api/v1/promotions", params={"state": "approved", "environment": "prod"}).json()
    assert [p["id"] for p in listed["items"]] == [pid] and listed["next"] is None


def test_reject_needs_a_comment_and_is_final(fresh_service: Service) -> None:
    _cli_promote_to_prod_ready(fresh_service)
    alice, bob = fresh_service.login("alice"), fresh_service.login("bob")
    pid = alice.post("/api/v1/promotions", json={"release": "web@1.0.0", "environment": "prod",
                                                 "reason": "r"}).json()["promotion"]["id"]
    assert _error(bob.post(f"/api/v1/promotions/{pid}/reject", json={})) == (400, "bad-request")
    assert _error(bob.post(f"/api/v1/promotions/{pid}/reject", json={"comment": "  "}))[0] == 422
    r = bob.post(f"/api/v1/promotions/{pid}/reject", json={"comment": "not this week"})
    assert r.status_code == 200 and r.json()["promotion"]["state"] == "rejected"
    assert _error(bob.post(f"/api/v1/promotions/{pid}/approve")) == (409, "bad-transition")
    assert _error(alice.post(f"/api/v1/promotions/{pid}/cancel", json={"reason": "x"})) == (409, "bad-transition")


def test_evaluate_and_cancel(fresh_service: Service) -> None:
    alice, bob = fresh_service.login("alice"), fresh_service.login("bob")
    r = alice.post("/api/v1/promotions", json={"release": "web@1.0.0", "environment": "dev", "reason": "r"})
    pid = r.json()["promotion"]["id"]
    assert r.json()["promotion"]["state"] == "approved"          # dev needs no approval
    r = bob.post(f"/api/v1/promotions/{pid}/evaluate")
    assert r.status_code == 200 and r.json()["record"]["verdict"] == "pass"
    assert _error(bob.post(f"/api/v1/promotions/{pid}/cancel", json={})) == (403, "missing-role")
    r = alice.post(f"/api/v1/promotions/{pid}/cancel", json={"reason": "wrong day"})
    assert r.status_code == 200 and r.json()["promotion"]["state"] == "cancelled"
    history = alice.get(f"/api/v1/promotions/{pid}").json()["history"]
    assert history[-1]["actor"] == "alice" and history[-1]["note"] == "wrong day"


def test_evidence_is_the_packet_the_cli_exports(prod_ready: Service, tmp_path: Path) -> None:
    erin = prod_ready.login("erin")
    pid = erin.get("/api/v1/promotions", params={"environment": "dev"}).json()["items"][0]["id"]
    r = erin.get(f"/api/v1/promotions/{pid}/evidence")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert pid in r.headers["content-disposition"]
    out = tmp_path / "packet.json"
    cli = prod_ready.stella("evidence", "export", pid, "--out", str(out), user="erin")
    assert cli.exit_code == 0, cli.output
    assert out.read_bytes() == r.content                         # the same signed bytes
    assert r.headers["x-stella-digest"] in cli.output
    assert _error(erin.get(f"/api/v1/promotions/{pid}/evidence", params={"type": "nope"})) == (400, "bad-request")
    assert _error(erin.get("/api/v1/promotions/P-9999/evidence")) == (404, "unknown-promotion")
    events = erin.get("/api/v1/audit", params={"limit": 5}).json()["items"]
    assert any(e["action"] == "evidence.export" and e["actor"] == "erin" for e in events)


# --- the same misuse through both faces --------------------------------------------------------

def _pending_prod(service: Service) -> str:
    """A pending prod promotion of web@1.0.0 (awaiting approval, or approved by an earlier test)."""
    r = service.stella("promotion", "list", "--json")
    found = [p["id"] for p in json.loads(r.output)
             if p["environment"] == "prod" and p["state"] in ("awaiting-approval", "approved")]
    if found:
        return str(found[0])
    r = service.stella("promote", "web@1.0.0", "--to", "prod", "--reason", "both faces", "--json", user="alice")
    assert r.exit_code == 0, r.output
    return str(json.loads(r.output)["promotion"]["id"])


CASES = [
    # (what, CLI argv builder, API call builder, exit code, status, kind)
    ("the requester approves her own promotion",
     lambda pid: ("approve", pid, "--comment", "mine"), "alice",
     lambda pid: ("POST", f"/api/v1/promotions/{pid}/approve", {"comment": "mine"}),
     exitcodes.REFUSED, 403, "separation-of-duties"),
    ("a user without the approver role approves",
     lambda pid: ("approve", pid), "dave",
     lambda pid: ("POST", f"/api/v1/promotions/{pid}/approve", {}),
     exitcodes.REFUSED, 403, "missing-role"),
    ("an unknown promotion",
     lambda pid: ("approve", "P-9999"), "bob",
     lambda pid: ("POST", "/api/v1/promotions/P-9999/approve", {}),
     exitcodes.USAGE, 404, "unknown-promotion"),
    ("a second promotion of the same release to the same environment",
     lambda pid: ("promote", "web@1.0.0", "--to", "prod", "--reason", "again"), "alice",
     lambda pid: ("POST", "/api/v1/promotions", {"release": "web@1.0.0", "environment": "prod", "reason": "again"}),
     exitcodes.CONFLICT, 409, "duplicate"),
    ("a promotion a gate blocks (a critical finding with a fix)",
     lambda pid: ("promote", "web@2.0.0", "--to", "dev", "--reason", "blocked"), "alice",
     lambda pid: ("POST", "/api/v1/promotions", {"release": "web@2.0.0", "environment": "dev", "reason": "blocked"}),
     exitcodes.REFUSED, 422, "blocked"),
    ("an unknown environment",
     lambda pid: ("promote", "web@1.0.0", "--to", "moon", "--reason", "x"), "alice",
     lambda pid: ("POST", "/api/v1/promotions", {"release": "web@1.0.0", "environment": "moon", "reason": "x"}),
     exitcodes.USAGE, 404, "unknown-environment"),
    ("stop-the-line by a non-admin",
     lambda pid: ("env", "stop-the-line", "--reason", "x"), "bob",
     lambda pid: ("POST", "/api/v1/stop-the-line", {"reason": "x"}),
     exitcodes.REFUSED, 403, "missing-role"),
]


@pytest.mark.parametrize(("what", "argv", "user", "call", "code", "status", "kind"), CASES,
                         ids=[c[0] for c in CASES])
def test_the_same_misuse_is_refused_alike_by_both_faces(prod_ready: Service, what: str, argv: Any, user: str,
                                                        call: Any, code: int, status: int, kind: str) -> None:
    pid = _pending_prod(prod_ready)
    client = prod_ready.bearer(user)
    before = prod_ready.stella("audit", "verify", "--json")
    cli = prod_ready.stella(*argv(pid), user=user)
    assert cli.exit_code == code, cli.output
    assert _kind(cli) == kind
    method, path, body = call(pid)
    r = client.request(method, path, json=body)
    assert _error(r) == (status, kind), r.text
    # the message is the one the CLI prints
    assert r.json()["error"]["message"] in cli.output.replace("\n", " ")
    # neither face changed anything
    assert prod_ready.stella("audit", "verify", "--json").output == before.output
