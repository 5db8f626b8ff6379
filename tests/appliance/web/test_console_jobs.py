"""Long work from the console in a real browser: upload a kit and watch its import job to the
end; deploy from the promotion page (refused at once without the deployer role; as a job
otherwise, its failure shown with the kind the CLI prints)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from kit.crypto import Signer
from tests.appliance.deploy import conftest as deploy_fixtures
from tests.appliance.deploy.conftest import Site
from tests.appliance.deploy.site import Rel, free_port, web
from tests.appliance.promotions.conftest import ADVISORIES, SNAPSHOT
from tests.appliance.promotions.kits import release_files, site_kit
from tests.appliance.web.browser import (  # noqa: F401  (fixtures: browser_type_launch_args, contexts)
    browser_type_launch_args_fixture,
    contexts_fixture,
    log_in,
    shot,
)
from tests.appliance.web.conftest import PASSWORDS, Service, _cli
from tests.appliance.web.test_console import to_prod

# the deploy tests' fixtures: a home with a real appliance registry, targets on the test dockerd, clean-up
appliance_registry, site = deploy_fixtures.appliance_registry, deploy_fixtures.site


def test_upload_a_kit_and_watch_its_import(contexts: Callable[..., BrowserContext], fresh_service: Service,
                                           tmp_path: Path, signer: Signer) -> None:
    svc = fresh_service
    kit_path = tmp_path / "site-2.stella-kit"
    site_kit(kit_path, [signer], sequence=2, advisories=ADVISORIES, snapshot=SNAPSHOT,
             releases=release_files("api", "3.0.0", [("flask", "3.0.0")]))
    page = log_in(contexts(), svc, "admin", "/kits")
    page.get_by_label("Kit file").set_input_files(str(kit_path))
    page.get_by_role("button", name="Upload and import").click()
    # first the plan: what the import would change, and a confirmation
    expect(page).to_have_url(re.compile(r"/jobs/J-\d+$"))
    expect(page.locator(".job-state")).to_contain_text("succeeded", timeout=60_000)
    page.reload()                                  # the plan section is rendered with the finished job's page
    expect(page.locator("pre.plan")).to_contain_text("would import it")
    expect(page.locator("pre.plan")).to_contain_text("api@3.0.0")
    expect(page.locator("section[aria-label=Plan]")).to_contain_text("No gate verdict would change")
    shot(page, "job-plan")
    page.get_by_role("button", name="Import this kit").click()
    expect(page).to_have_url(re.compile(r"/jobs/J-\d+$"))
    expect(page.locator("h1")).to_contain_text("import")
    expect(page.locator(".job-state")).to_contain_text("succeeded", timeout=60_000)
    shot(page, "job-import")
    page.get_by_role("link", name="Releases").click()
    expect(page.locator("table")).to_contain_text("api@3.0.0")
    page.get_by_role("link", name="Kits").click()
    expect(page.locator(".sealed")).to_contain_text("#2")

    # a user without the admin role is refused, the reason shown
    alice = log_in(contexts(), svc, "alice", "/kits")
    alice.get_by_label("Kit file").set_input_files(str(kit_path))
    alice.get_by_role("button", name="Upload and import").click()
    expect(alice.locator(".problem-message")).to_contain_text("lacks the admin role")


def _until_done(page: Page) -> None:
    """No htmx without JavaScript: reload the job's page like a person would until it is over."""
    expect(page).to_have_url(re.compile(r"/jobs/J-\d+$"))
    for _ in range(120):
        if "succeeded" in (page.locator(".job-state").text_content() or ""):
            return
        page.wait_for_timeout(500)
        page.reload()
    expect(page.locator(".job-state")).to_contain_text("succeeded")


def test_upload_without_javascript(contexts: Callable[..., BrowserContext], fresh_service: Service,
                                   tmp_path: Path, signer: Signer) -> None:
    """A plain multipart form post: the CSRF field is checked before the file is stored, and the
    same import job runs; misuse stores nothing in uploads/."""
    svc = fresh_service
    kit_path = tmp_path / "site-2.stella-kit"
    site_kit(kit_path, [signer], sequence=2, advisories=ADVISORIES, snapshot=SNAPSHOT,
             releases=release_files("api", "3.0.0", [("flask", "3.0.0")]))
    page = log_in(contexts(javascript=False), svc, "admin", "/kits")
    page.get_by_label("Kit file").set_input_files(str(kit_path))
    page.get_by_role("button", name="Upload and import").click()
    _until_done(page)                              # the plan
    plan_id = page.url.rsplit("/", 1)[1]
    page.get_by_role("button", name="Import this kit").click()
    _until_done(page)                              # the import
    expect(page.locator("h1")).to_contain_text("import")
    page.goto(svc.base_url + "/releases")
    expect(page.locator("table")).to_contain_text("api@3.0.0")

    uploads = svc.home / "uploads"
    before = sorted(uploads.iterdir()) if uploads.exists() else []
    data = kit_path.read_bytes()
    admin = svc.login("admin")
    csrf = admin.headers.pop("X-CSRF-Token")
    # the file before the CSRF field, a wrong token, none at all: 403, nothing stored
    wrong_order = admin.post("/kits/upload", files=[("kit", ("k.stella-kit", data)), ("csrf_token", (None, csrf))])
    wrong_token = admin.post("/kits/upload", files=[("csrf_token", (None, "x" * 43)), ("kit", ("k", data))])
    missing = admin.post("/kits/upload", files=[("kit", ("k", data))])
    for r in (wrong_order, wrong_token, missing):
        assert r.status_code == 403 and "csrf" in r.text, r.text
    # not a form, an empty file, no file: 400; a non-admin: 403 missing-role
    assert admin.post("/kits/upload", content=data, headers={"Content-Type": "application/octet-stream"}
                      ).status_code == 400
    empty = admin.post("/kits/upload", files=[("csrf_token", (None, csrf)), ("kit", ("k", b""))])
    assert empty.status_code == 400 and "empty" in empty.text
    nofile = admin.post("/kits/upload", files=[("csrf_token", (None, csrf)), ("other", (None, "x"))])
    assert nofile.status_code == 400 and "no kit" in nofile.text
    # the planned upload was handed to its import: confirming again is refused (409)
    again = admin.post(f"/kits/plans/{plan_id}/import", data={"csrf_token": csrf})
    assert again.status_code == 409 and "plan-not-ready" in again.text, again.text
    # a second upload planned, then discarded: its file goes, and it can no longer be imported
    planned = admin.post("/kits/upload", files=[("csrf_token", (None, csrf)), ("kit", ("again.stella-kit", data))])
    assert planned.status_code == 303, planned.text
    second = planned.headers["location"].rsplit("/", 1)[1]
    for _ in range(120):
        if admin.get(f"/api/v1/jobs/{second}").json()["state"] != "queued":
            if admin.get(f"/api/v1/jobs/{second}").json()["state"] != "running":
                break
        time.sleep(0.25)
    job = admin.get(f"/api/v1/jobs/{second}").json()
    assert job["state"] == "succeeded" and job["result"]["status"] == "already-imported", job
    assert len(list(uploads.iterdir())) == len(before) + 1           # waiting for a decision
    gone = admin.post(f"/kits/plans/{second}/discard", data={"csrf_token": csrf})
    assert gone.status_code == 303 and gone.headers["location"] == "/kits"
    after_discard = admin.post(f"/kits/plans/{second}/import", data={"csrf_token": csrf})
    assert after_discard.status_code == 409 and "discarded" in after_discard.text
    alice = svc.login("alice")
    a_csrf = alice.headers.pop("X-CSRF-Token")
    refused = alice.post("/kits/upload", files=[("csrf_token", (None, a_csrf)), ("kit", ("k", data))])
    assert refused.status_code == 403 and "missing-role" in refused.text
    assert (sorted(uploads.iterdir()) if uploads.exists() else []) == before


def test_deploy_from_the_promotion_page(contexts: Callable[..., BrowserContext], fresh_service: Service) -> None:
    svc = fresh_service
    pid = to_prod(svc)
    for user in ("bob", "carol"):
        assert svc.stella("approve", pid, user=user).exit_code == 0
    alice = log_in(contexts(), svc, "alice", f"/promotions/{pid}")
    alice.get_by_role("button", name=re.compile("Deploy")).click()
    expect(alice.locator("#problem")).to_contain_text("lacks the deployer role")

    dave = log_in(contexts(), svc, "dave", f"/promotions/{pid}")
    dave.get_by_role("button", name=re.compile("Deploy")).click()
    expect(dave).to_have_url(re.compile(r"/jobs/J-\d+$"))
    expect(dave.locator(".job-state")).to_contain_text("failed", timeout=60_000)    # the demo kit has no compose
    expect(dave.locator(".job")).to_contain_text("no-compose-template")
    shot(dave, "job-deploy")
    dave.get_by_role("link", name=pid).click()
    expect(dave.locator("h1")).to_contain_text(pid)

    # roll back stage from the pipeline: a job (there is no earlier release in stage, so it fails, saying why)
    dave.get_by_role("link", name="Pipeline").click()
    dave.get_by_role("button", name="Roll back stage").click()
    expect(dave).to_have_url(re.compile(r"/jobs/J-\d+$"))
    expect(dave.locator(".job-state")).to_contain_text("failed", timeout=60_000)
    expect(dave.locator(".job")).to_contain_text("no-previous-release")
    shot(dave, "job-rollback")

    # re-evaluate from the kits page: a job that ends
    admin = log_in(contexts(), svc, "admin", "/kits")
    admin.get_by_role("button", name=re.compile("Re-evaluate")).click()
    expect(admin).to_have_url(re.compile(r"/jobs/J-\d+$"))
    expect(admin.locator(".job-state")).to_contain_text("succeeded", timeout=60_000)


@pytest.mark.services
def test_deploy_then_drift_shows_a_container_stopped_by_hand(
        contexts: Callable[..., BrowserContext], site: Site, serve: Callable[..., Service]) -> None:
    site.import_([Rel("shop", "1.0.0", {"web": web(free_port())}, {"web": "shop web 1"})])
    project = site.target("dev-1")
    r = _cli(site.home, "user", "passwd", "dave", "--password-stdin", user="root", stdin=PASSWORDS["dave"] + "\n")
    assert r.exit_code == 0, r.output
    pid = site.promote("shop@1.0.0")
    svc = serve(site.home)

    dave = log_in(contexts(), svc, "dave", f"/promotions/{pid}")
    dave.get_by_role("button", name=re.compile("Deploy")).click()
    expect(dave).to_have_url(re.compile(r"/jobs/J-\d+$"))
    expect(dave.locator(".job-state")).to_contain_text("succeeded", timeout=120_000)
    shot(dave, "job-deploy-succeeded")
    dave.get_by_role("link", name="Pipeline").click()
    expect(dave.locator("ol.pipeline > li").nth(0)).to_contain_text("shop@1.0.0")
    expect(dave.locator("ol.pipeline > li").nth(0)).to_contain_text("by dave")

    dave.goto(svc.base_url + "/deployments?drift=1")
    expect(dave.locator("section[aria-label=Drift]")).to_contain_text("match")
    client = site.client()
    try:
        ctr = client.containers.list(filters={"label": f"com.docker.compose.project={project}"})[0]
        ctr.stop()
    finally:
        client.close()
    dave.get_by_role("button", name="Check drift now").click()
    drift = dave.locator("table.drift")
    expect(drift).to_contain_text("stopped")
    expect(drift).to_contain_text("web")
    expect(dave.locator("section[aria-label=Drift] h3")).to_contain_text("differs")
    shot(dave, "deployments-drift")
