"""Workflow runs in the console, in a real browser against a real ``stella serve``: the runs
list, a run's page (its steps as a graph with status colours and one by one: what a step
waits for, outputs, the log tail and the whole log), the promotion linking its run, cancel
refused to an auditor and done by the requester, and the outbox.

Screenshots: runs, run, promotion-run-link, run-cancelled, outbox, run-succeeded (.png) under
$STELLA_SCREENSHOTS.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, expect

from tests.appliance.web.browser import (  # noqa: F401  (fixtures: browser_type_launch_args, contexts)
    browser_type_launch_args_fixture,
    contexts_fixture,
    log_in,
    shot,
)
from tests.appliance.web.conftest import Service, free_port

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(1)>"
TEMPLATE = """\
schema: stella/workflow/v1
name: dev-smoke
steps:
  - {id: gates, uses: gate}
  - id: smoke
    uses: health
    needs: [gates]
    with: {probe: http, port: PORT, path: /, interval: 1s, deadline: 10s}
  - id: announce
    uses: notify
    needs: [gates]
    with: {message: 'starting the soak HOSTILE', severity: warning}
  - {id: soak, uses: wait, needs: [smoke], with: {duration: 1h}}
  - {id: tell, uses: notify, needs: [soak, announce], with: {message: "web is live in dev", severity: info}}
""".replace("HOSTILE", HOSTILE)


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def app_port() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_a_run_its_graph_cancel_and_the_outbox(contexts: Callable[..., BrowserContext], fresh_service: Service,
                                               app_port: int) -> None:
    svc = fresh_service
    r = svc.stella("target", "add", "dev-1", "--env", "dev", "--docker", "unix:///nonexistent/docker.sock",
                   user="admin")
    assert r.exit_code == 0, r.output
    path = svc.home.parent / "dev.workflow.yaml"
    path.write_text(TEMPLATE.replace("PORT", str(app_port)))
    r = svc.stella("workflow", "set", "dev", str(path), user="admin")
    assert r.exit_code == 0, r.output
    r = svc.stella("promote", "web@1.0.0", "--to", "dev", "--reason", "console runs", user="alice")
    assert r.exit_code == 0, r.output
    pid = r.output.split()[0]

    page = log_in(contexts(), svc, "erin", "/runs")
    expect(page.locator("h1")).to_have_text("Workflow runs")
    row = page.locator("table.runs tbody tr").first
    expect(row).to_contain_text(pid)
    expect(row).to_contain_text("running")
    shot(page, "runs")
    run_id = row.locator("td").first.inner_text().strip()
    page.get_by_role("link", name=run_id).click()

    expect(page.locator("h1")).to_have_text(f"Run {run_id}")
    columns = page.locator("ol.dag > li.dag-column")
    expect(columns).to_have_count(4)                                # gates | smoke, announce | soak | tell
    expect(columns.nth(1).locator("a.step-chip")).to_have_count(2)
    expect(page.locator("a.step-chip.st-succeeded")).to_have_count(3)
    expect(page.locator("a.step-chip.st-running")).to_contain_text("soak")
    expect(page.locator("a.step-chip.st-pending")).to_contain_text("tell")
    soak = page.locator("article#step-soak")
    expect(soak.locator(".step-message")).to_contain_text("soaking until")
    expect(soak).to_contain_text("Waiting for")
    smoke = page.locator("article#step-smoke")
    expect(smoke.locator("pre.log-tail")).to_contain_text("dev-1: ok=True status=200")
    expect(smoke.locator(".outputs")).to_contain_text("200")
    announce = page.locator("article#step-announce")
    expect(announce).to_contain_text(HOSTILE)                       # shown as text, never run
    expect(page.locator("section[aria-label=Notifications]")).to_contain_text(HOSTILE)
    shot(page, "run")

    # the whole log through the API, with the console's session
    href = smoke.get_by_role("link", name="Full log").get_attribute("href")
    assert href == f"/api/v1/runs/{run_id}/steps/smoke/log"
    log = contexts_page_text(page, svc.base_url + href)
    assert "dev-1: ok=True status=200" in log

    # an auditor may look, not cancel: the service's refusal, with its kind
    page.goto(f"{svc.base_url}/runs/{run_id}")
    page.get_by_label("Reason for cancelling").fill("not mine to stop")
    page.get_by_role("button", name="Cancel run").click()
    expect(page.locator("#problem")).to_contain_text("missing-role")
    expect(page.locator(".run-state")).to_contain_text("running")
    page.close()            # it polls while the run runs: no request may outlive the service

    # the promotion links its run; its requester cancels
    alice = log_in(contexts(), svc, "alice", f"/promotions/{pid}")
    expect(alice.locator(".run-link")).to_contain_text("dev-smoke")
    shot(alice, "promotion-run-link")
    alice.locator(".run-link").get_by_role("link", name=run_id).click()
    expect(alice.locator("h1")).to_have_text(f"Run {run_id}")
    alice.get_by_label("Reason for cancelling").fill("wrong day")
    alice.get_by_role("button", name="Cancel run").click()
    expect(alice.locator(".notice.ok")).to_contain_text("cancelled")
    expect(alice.locator(".run-state")).to_contain_text("cancelled")
    expect(alice.locator(".cancel-reason")).to_contain_text("wrong day")
    expect(alice.locator("a.step-chip.st-cancelled")).to_contain_text("soak")
    expect(alice.locator("section[aria-label='Run actions']")).to_have_count(0)
    shot(alice, "run-cancelled")

    alice.get_by_role("link", name="Outbox").click()
    expect(alice.locator("table.outbox tbody tr").first).to_contain_text(HOSTILE)
    expect(alice.locator("table.outbox tbody tr").first).to_contain_text("warning")
    shot(alice, "outbox")

    # a form post without the CSRF field is refused (403), as every console action
    client = svc.login("alice")
    del client.headers["X-CSRF-Token"]
    assert client.post(f"/runs/{run_id}/resume").status_code == 403


def contexts_page_text(page: Any, url: str) -> str:
    """The body of *url* fetched with the page's cookies (the browser's own request)."""
    response = page.request.get(url)
    assert response.status == 200 and response.headers["content-type"].startswith("text/plain")
    return str(response.text())


def test_a_run_page_follows_the_run_as_it_ends(contexts: Callable[..., BrowserContext], fresh_service: Service,
                                               app_port: int) -> None:
    """The service's waker ends an 8 s soak; the open page shows it without a reload (htmx)."""
    svc = fresh_service
    r = svc.stella("target", "add", "dev-1", "--env", "dev", "--docker", "unix:///nonexistent/docker.sock",
                   user="admin")
    assert r.exit_code == 0, r.output
    path = svc.home.parent / "dev.workflow.yaml"
    path.write_text(TEMPLATE.replace("PORT", str(app_port)).replace("duration: 1h", "duration: 8s"))
    assert svc.stella("workflow", "set", "dev", str(path), user="admin").exit_code == 0
    r = svc.stella("promote", "web@1.0.0", "--to", "dev", "--reason", "watch it", user="alice")
    assert r.exit_code == 0, r.output
    page = log_in(contexts(), svc, "alice", "/runs")
    page.locator("table.runs tbody tr").first.get_by_role("link").first.click()
    expect(page.locator(".run-state")).to_contain_text("running")
    expect(page.locator(".run-state")).to_contain_text("succeeded", timeout=40_000)
    expect(page.locator("a.step-chip.st-succeeded")).to_have_count(5)
    expect(page.locator("article#step-tell")).to_contain_text("web is live in dev")
    expect(page.locator("section[aria-label='Run actions']")).to_have_count(0)        # nothing left to cancel
    shot(page, "run-succeeded")
    page.close()
