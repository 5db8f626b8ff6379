"""Workflow runs through the JSON API of a real ``stella serve``: list and show as the CLI
shows them, a step's log, the outbox, cancel (its role rule and reason) and resume — and the
service's run waker finishing a soak with nobody asking."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.appliance.web.conftest import Service, free_port

TEMPLATE = """\
schema: stella/workflow/v1
name: dev-smoke
steps:
  - {id: gates, uses: gate}
  - id: smoke
    uses: health
    needs: [gates]
    with: {probe: http, port: PORT, path: /, interval: 1s, deadline: 10s}
  - {id: soak, uses: wait, needs: [smoke], with: {duration: SOAK}}
  - {id: tell, uses: notify, needs: [soak], with: {message: "web is <b>live</b> in dev", severity: info}}
"""


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def app_port() -> Iterator[int]:
    """A real HTTP server on 127.0.0.1: what the health step probes on the target."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Ok)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def set_template(service: Service, env: str, soak: str, port: int) -> None:
    path = service.home.parent / f"{env}-{soak}.workflow.yaml"
    path.write_text(TEMPLATE.replace("PORT", str(port)).replace("SOAK", soak))
    r = service.stella("workflow", "set", env, str(path), user="admin")
    assert r.exit_code == 0, r.output


@pytest.fixture(scope="module")
def site(service: Service, app_port: int) -> Service:
    """dev has a target (an engine that is never asked: only probed) and the smoke template."""
    r = service.stella("target", "add", "dev-1", "--env", "dev", "--docker", "unix:///nonexistent/docker.sock",
                       user="admin")
    assert r.exit_code == 0, r.output
    set_template(service, "dev", "5s", app_port)
    return service


def _error(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    assert set(body) == {"error"}, body
    return response.status_code, str(body["error"]["kind"])


def _promote(client: httpx.Client, release: str, env: str = "dev") -> tuple[str, str]:
    r = client.post("/api/v1/promotions", json={"release": release, "environment": env, "reason": "try it"})
    assert r.status_code == 201, r.text
    pid = r.json()["promotion"]["id"]
    runs = client.get("/api/v1/runs", params={"promotion": pid}).json()["items"]
    assert [x["promotion"] for x in runs] == [pid]
    return pid, runs[0]["id"]


def _steps(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in doc["steps"]}


def test_a_run_soaks_and_the_service_finishes_it_unasked(site: Service) -> None:
    alice = site.login("alice")
    assert _error(site.client().get("/api/v1/runs")) == (401, "not-authenticated")
    _pid, run_id = _promote(alice, "web@1.0.0")
    doc = alice.get(f"/api/v1/runs/{run_id}").json()
    steps = _steps(doc)
    assert doc["run"]["state"] == "running" and doc["run"]["template"]["name"] == "dev-smoke"
    assert steps["smoke"]["status"] == "succeeded" and steps["smoke"]["outputs"]["status"] == 200
    assert steps["soak"]["status"] == "running" and steps["soak"]["message"].startswith("soaking until ")
    assert steps["tell"]["status"] == "pending"
    assert "dev-1: ok=True status=200" in steps["smoke"]["logTail"]

    deadline = time.monotonic() + 30          # nobody asks: the service's waker ends the soak
    while doc["run"]["state"] == "running":
        assert time.monotonic() < deadline, doc
        time.sleep(0.3)
        doc = alice.get(f"/api/v1/runs/{run_id}").json()
    assert doc["run"]["state"] == "succeeded"
    assert {k: s["status"] for k, s in _steps(doc).items()} == {"gates": "succeeded", "smoke": "succeeded",
                                                                 "soak": "succeeded", "tell": "succeeded"}
    for _ in range(20):          # one document, two faces (once the run's end has been fully recorded)
        cli = site.stella("run", "show", run_id, "--json")
        assert cli.exit_code == 0, cli.output
        if json.loads(cli.output) == (doc := alice.get(f"/api/v1/runs/{run_id}").json()):
            break
        time.sleep(0.2)
    assert json.loads(cli.output) == doc

    outbox = alice.get("/api/v1/outbox").json()
    assert outbox["items"][0]["run"] == run_id and outbox["items"][0]["step"] == "tell"
    assert outbox["items"][0]["message"] == "web is <b>live</b> in dev" and outbox["items"][0]["severity"] == "info"
    assert alice.get("/api/v1/outbox", params={"run": "R-9999"}).json() == {"items": [], "next": None}


def test_a_steps_whole_log_is_text(site: Service) -> None:
    alice = site.login("alice")
    run_id = alice.get("/api/v1/runs", params={"state": "succeeded"}).json()["items"][-1]["id"]
    r = alice.get(f"/api/v1/runs/{run_id}/steps/smoke/log")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    cli = site.stella("run", "logs", run_id, "smoke")
    assert r.text == cli.output and "dev-1: ok=True status=200" in r.text
    assert alice.get(f"/api/v1/runs/{run_id}/steps/smoke/log", params={"attempt": 1}).text == r.text
    assert _error(alice.get(f"/api/v1/runs/{run_id}/steps/smoke/log", params={"attempt": 2})) == (404, "unknown-step")
    assert _error(alice.get(f"/api/v1/runs/{run_id}/steps/nope/log")) == (404, "unknown-step")
    assert _error(alice.get("/api/v1/runs/R-9999/steps/smoke/log")) == (404, "unknown-run")
    assert _error(alice.get("/api/v1/runs/R-9999")) == (404, "unknown-run")
    assert alice.get(f"/api/v1/runs/{run_id}/steps/..%2F..%2Fstella.db/log").status_code == 404


def test_resume_does_not_wait_through_a_soak_and_cancel_follows_its_rule(site: Service, app_port: int) -> None:
    for args in (("env", "create", "qa", "--order", "0"),
                 ("target", "add", "qa-1", "--env", "qa", "--docker", "unix:///nonexistent/docker.sock")):
        done = site.stella(*args, user="admin")
        assert done.exit_code == 0, done.output
    set_template(site, "qa", "1h", app_port)
    alice, bob, erin, admin = (site.login(u) for u in ("alice", "bob", "erin", "admin"))
    pid, run_id = _promote(alice, "web@1.0.0", "qa")
    started = time.monotonic()
    r = bob.post(f"/api/v1/runs/{run_id}/resume")
    assert r.status_code == 200, r.text
    assert time.monotonic() - started < 30                           # a one-hour soak is not waited through
    assert _steps(r.json())["soak"]["status"] == "running"

    assert _error(erin.post(f"/api/v1/runs/{run_id}/cancel", json={"reason": "no"})) == (403, "missing-role")
    assert _error(bob.post(f"/api/v1/runs/{run_id}/cancel", json={"reason": "no"})) == (403, "missing-role")
    assert _error(alice.post(f"/api/v1/runs/{run_id}/cancel", json={})) == (422, "no-reason")   # as the CLI
    bearer = site.bearer("alice")
    assert _error(site.client().post(f"/api/v1/runs/{run_id}/cancel", json={"reason": "x"}))[0] == 401
    r = bearer.post(f"/api/v1/runs/{run_id}/cancel", json={"reason": "wrong day"})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["run"]["state"] == "cancelled" and "wrong day" in doc["run"]["cancelReason"]
    assert _steps(doc)["soak"]["status"] == "cancelled"
    assert alice.get(f"/api/v1/promotions/{pid}").json()["promotion"]["state"] == "cancelled"
    assert _error(admin.post(f"/api/v1/runs/{run_id}/cancel", json={"reason": "again"})) == (409, "run-finished")
    assert _error(admin.post(f"/api/v1/runs/{run_id}/resume")) == (409, "run-finished")
    audit = admin.get("/api/v1/audit").json()["items"]
    assert {(e["actor"], e["action"]) for e in audit[:3]} >= {("alice", "promotion.cancelled"),
                                                               ("alice", "run.finish")}     # the caller, audited


def test_lists_page_and_filter(site: Service) -> None:
    alice = site.login("alice")
    everything = alice.get("/api/v1/runs").json()
    ids = [r["id"] for r in everything["items"]]
    assert len(ids) >= 2 and everything["next"] is None
    walked, cursor = [], None
    while True:
        page = alice.get("/api/v1/runs", params={"limit": 1, **({"cursor": cursor} if cursor else {})}).json()
        walked += [r["id"] for r in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert walked == ids                                              # newest first, each once
    assert [r["state"] for r in alice.get("/api/v1/runs", params={"state": "cancelled"}).json()["items"]] == \
        ["cancelled"] * sum(1 for r in everything["items"] if r["state"] == "cancelled")
    assert _error(alice.get("/api/v1/runs", params={"state": "sleeping"})) == (400, "bad-request")
    other = alice.get("/api/v1/audit", params={"limit": 1}).json()["next"]      # a cursor of another list
    assert _error(alice.get("/api/v1/runs", params={"cursor": other})) == (400, "bad-cursor")
    assert _error(alice.get("/api/v1/outbox", params={"limit": 0})) == (400, "bad-limit")
