"""The console in a real browser (Debian's chromium driven by Playwright) against a real
``stella serve`` on 127.0.0.1: log in, the pipeline, separation of duties refused with its
reason, approvals by others, the no-JavaScript path, and hostile kit content rendered inert.

Screenshots of the main pages go to $STELLA_SCREENSHOTS (default out/screenshots).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import BrowserContext, Dialog, expect

from kit.canonical import dumps
from kit.crypto import Signer
from tests.appliance.helpers import stella
from tests.appliance.promotions.conftest import PACKAGES, SNAPSHOT
from tests.appliance.promotions.kits import osv, release_files, site_kit
from tests.appliance.web.browser import (  # noqa: F401  (fixtures: browser_type_launch_args, contexts)
    browser_type_launch_args_fixture,
    contexts_fixture,
    log_in,
    shot,
)
from tests.appliance.web.conftest import Service, site_home

HOSTILE = "<script>alert(1)</script>\"><img src=x onerror=alert(1)>"


def promote(svc: Service, release: str, env: str, user: str = "alice") -> str:
    r = svc.stella("promote", release, "--to", env, "--reason", f"console test {env}", user=user)
    assert r.exit_code == 0, r.output
    return r.output.split()[0]


def to_prod(svc: Service) -> str:
    """web@1.0.0 through dev and stage (marked deployed by dave); alice requests prod: its id."""
    for env in ("dev", "stage"):
        pid = promote(svc, "web@1.0.0", env)
        r = svc.stella("promotion", "mark-deployed", pid, user="dave")
        assert r.exit_code == 0, r.output
    return promote(svc, "web@1.0.0", "prod")


def test_login_is_required_and_refuses_a_wrong_password(contexts: Callable[..., BrowserContext],
                                                        service: Service) -> None:
    page = contexts().new_page()
    page.goto(service.base_url + "/promotions")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fpromotions"))
    expect(page.locator(".sealed")).to_contain_text("Sealed mode")
    page.get_by_label("User").fill("bob")
    page.get_by_label("Password").fill("not-his-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.locator("#problem")).to_contain_text("wrong user name or password")
    shot(page, "login-refused")


def test_pipeline_sod_and_approvals(contexts: Callable[..., BrowserContext], fresh_service: Service) -> None:
    svc = fresh_service
    r = svc.stella("user", "add", "alice", "--role", "approver", user="admin")   # a requester who can approve
    assert r.exit_code == 0, r.output
    pid = to_prod(svc)

    page = log_in(contexts(), svc, "alice")
    strip = page.locator("ol.pipeline > li h2")
    expect(strip).to_have_count(3)
    expect(strip.nth(0)).to_contain_text("dev")
    expect(strip.nth(2)).to_contain_text("prod")
    expect(page.locator("ol.pipeline > li").nth(0)).to_contain_text("web@1.0.0")      # running in dev
    expect(page.locator("ol.pipeline > li").nth(1)).to_contain_text("by dave")
    expect(page.locator("ol.pipeline")).to_contain_text("approvals 0/2")
    expect(page.locator(".sealed")).to_contain_text("Advisory snapshot")
    shot(page, "pipeline")

    page.get_by_role("link", name=pid).click()
    expect(page.locator("h1")).to_contain_text(pid)
    expect(page.locator("table.gates")).to_contain_text("approvals")
    page.get_by_label("Comment").fill("my own change")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("#problem")).to_contain_text("separation of duties")
    expect(page.locator(".approvals-count")).to_have_text("0/2")
    shot(page, "promotion-sod-refused")
    # the same misuse through the CLI gets the same refusal (one service layer)
    said = page.locator(".problem-message").inner_text()
    r = svc.stella("approve", pid, user="alice")
    assert r.exit_code == 1 and f"separation-of-duties: {said}" in r.output, (said, r.output)

    for user in ("bob", "carol"):
        p = log_in(contexts(), svc, user, f"/promotions/{pid}")
        p.get_by_label("Comment").fill(f"{user} checked it")
        p.get_by_role("button", name="Approve").click()
        expect(p.locator(".notice.ok")).to_contain_text("approval was recorded")
    expect(p.locator(".state")).to_contain_text("approved")
    expect(p.locator(".approvals-count")).to_have_text("2/2")
    expect(p.locator("ul.approvals")).to_contain_text("carol checked it")
    p.get_by_role("button", name="Verify and replay the evidence here").click()
    expect(p.locator(".verify-result")).to_contain_text("byte-identical")
    shot(p, "promotion-approved")

    for path, name in (("/releases/web/1.0.0", "release"), ("/promotions", "promotions"), ("/kits", "kits"),
                       ("/deployments?drift=1", "deployments"), ("/audit?verify=1", "audit"), ("/admin", "admin")):
        p.goto(svc.base_url + path)
        expect(p.locator("h1")).to_be_visible()
        shot(p, name)
    p.goto(svc.base_url + "/deployments?drift=1")
    expect(p.locator("section[aria-label=Drift]")).to_contain_text("No targets")
    p.goto(svc.base_url + "/audit?verify=1")
    expect(p.locator(".notice.ok")).to_contain_text("intact")
    p.goto(svc.base_url + "/releases/web/1.0.0")
    expect(p.locator("table.findings")).to_contain_text("PYSEC-2026-3")
    expect(p.locator("table.findings")).to_contain_text("not_affected")


def test_no_javascript_login_approve_reject(contexts: Callable[..., BrowserContext], fresh_service: Service) -> None:
    svc = fresh_service
    pid = to_prod(svc)
    bob = log_in(contexts(javascript=False), svc, "bob", f"/promotions/{pid}")
    bob.get_by_label("Comment").fill("fine by me")
    bob.get_by_role("button", name="Approve").click()
    expect(bob.locator(".notice.ok")).to_contain_text("approval was recorded")
    expect(bob.locator(".approvals-count")).to_have_text("1/2")

    # alice requests again through the console form (no JavaScript); carol rejects it
    alice = log_in(contexts(javascript=False), svc, "alice", "/promotions")
    expect(alice.locator("#release-names option")).to_have_count(1)     # the newest version of each name
    alice.get_by_label("Release").fill("web@1.0.0")
    alice.get_by_label("to").select_option("dev")
    alice.get_by_label("Reason").fill("hotfix")
    alice.get_by_role("button", name="Request promotion").click()
    expect(alice.locator(".notice.ok")).to_contain_text("Promotion requested")
    again = alice.url.rsplit("/", 1)[1].split("?")[0]
    carol = log_in(contexts(javascript=False), svc, "carol", f"/promotions/{again}")
    carol.get_by_label("Comment").fill("not today")
    carol.get_by_role("button", name="Reject").click()
    expect(carol.locator(".notice.ok")).to_contain_text("rejected")
    expect(carol.locator(".state")).to_contain_text("rejected")
    shot(carol, "promotion-rejected-nojs")

    # a form post without the session's CSRF field is refused (403), nothing recorded
    r = svc.login("bob")
    r.headers.pop("X-CSRF-Token")
    refused = r.post(f"/promotions/{pid}/approve", data={"comment": "x"})
    assert refused.status_code == 403 and "csrf" in refused.text
    carol.get_by_role("button", name="Log out").click()
    expect(carol).to_have_url(re.compile(r"/login$"))
    carol.goto(svc.base_url + "/")
    expect(carol).to_have_url(re.compile(r"/login\?next="))


def test_keyboard_only(contexts: Callable[..., BrowserContext], service: Service) -> None:
    """Log in, reach a page through the navigation and request a promotion with the keyboard alone."""
    page = contexts().new_page()
    page.goto(service.base_url + "/")
    page.keyboard.type("alice")                     # the user field has the focus
    page.keyboard.press("Tab")
    page.keyboard.type(service.PASSWORDS["alice"])
    page.keyboard.press("Enter")
    expect(page.locator(".me")).to_contain_text("alice")
    page.keyboard.press("Tab")                      # the skip link comes first
    expect(page.locator(".skip")).to_be_focused()
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Promotions":
            break
    page.keyboard.press("Enter")
    expect(page).to_have_url(service.base_url + "/promotions")
    page.get_by_label("Release").focus()
    page.keyboard.type("web@1.0.0")
    page.keyboard.press("Escape")                   # close the suggestions
    page.keyboard.press("Tab")
    expect(page.get_by_label("to")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.type("by keyboard")
    page.keyboard.press("Enter")
    expect(page.locator(".notice.ok")).to_contain_text("Promotion requested")


def test_pipeline_shows_freezes_and_stop_the_line(contexts: Callable[..., BrowserContext],
                                                  fresh_service: Service) -> None:
    svc = fresh_service
    start = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S")
    r = svc.stella("env", "freeze", "prod", "--start", start, "--duration", "72h",
                   "--reason", "year-end freeze", user="admin")
    assert r.exit_code == 0, r.output
    r = svc.stella("env", "stop-the-line", "--reason", "incident 42", user="admin")
    assert r.exit_code == 0, r.output
    page = log_in(contexts(), svc, "erin")
    expect(page.locator(".notice.stop")).to_contain_text("Stop-the-line")
    expect(page.locator(".notice.stop")).to_contain_text("incident 42")
    prod = page.locator("ol.pipeline > li").nth(2)
    expect(prod.locator("h2")).to_contain_text("frozen")             # a word and an icon, not a colour
    expect(prod).to_contain_text("year-end freeze")
    shot(page, "pipeline-frozen-stopped")


def test_hostile_kit_content_is_inert(contexts: Callable[..., BrowserContext], tmp_path: Path, signer: Signer,
                                      serve: Callable[..., Service]) -> None:
    home = site_home(tmp_path / "site", signer)
    files = release_files("evil", "6.6.6", PACKAGES)
    doc_path = "releases/evil/6.6.6.json"
    doc = json.loads(files[doc_path])
    doc["name"] = HOSTILE
    files[doc_path] = dumps(doc)
    advisory = osv("PYSEC-2026-66", "flask", None)
    advisory["summary"] = HOSTILE
    kit_path = tmp_path / "evil.stella-kit"
    site_kit(kit_path, [signer], sequence=2, advisories=[advisory], snapshot=SNAPSHOT, releases=files)
    r = stella("import", str(kit_path), "--no-seed", home=home)
    assert r.exit_code == 0, r.output
    svc = serve(home)

    dialogs: list[str] = []
    page = log_in(contexts(), svc, "alice", "/releases")

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    expect(page.locator("table")).to_contain_text(HOSTILE)
    page.get_by_role("link", name=re.compile("alert")).click()
    expect(page.locator("h1")).to_have_text(f"{HOSTILE}@6.6.6")
    expect(page.locator("table.findings")).to_contain_text(HOSTILE)
    page.goto(svc.base_url + "/promotions")
    expect(page.locator("#release-names option").first).to_have_attribute("value", f"{HOSTILE}@6.6.6")
    shot(page, "hostile-pipeline")
    for path in ("/releases", "/", "/promotions"):
        page.goto(svc.base_url + path)
        assert page.locator("img[src='x']").count() == 0
        assert all("alert" not in (s.text_content() or "") for s in page.locator("script").all())
    page.get_by_role("link", name="Releases").click()
    page.get_by_role("link", name=re.compile("alert")).click()
    assert page.locator("img[src='x']").count() == 0
    shot(page, "hostile-release")
    assert dialogs == []
