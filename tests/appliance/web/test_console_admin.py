"""The console's admin page changes what ``stella user`` and ``stella env`` change, with the
same role check and audit events, without JavaScript; a non-admin is refused with the kind
the CLI gives and nothing changes."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from playwright.sync_api import BrowserContext, expect

from tests.appliance.web.browser import (  # noqa: F401  (fixtures: browser_type_launch_args, contexts)
    browser_type_launch_args_fixture,
    contexts_fixture,
    log_in,
    shot,
)
from tests.appliance.web.conftest import Service


def _cli_json(svc: Service, *args: str) -> object:
    r = svc.stella(*args, "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.output)


def test_admin_stops_the_line_freezes_and_adds_a_user(contexts: Callable[..., BrowserContext],
                                                      fresh_service: Service) -> None:
    svc = fresh_service
    page = log_in(contexts(javascript=False), svc, "admin", "/admin")

    page.get_by_label("Reason", exact=True).first.fill("incident 42")
    page.get_by_role("button", name="Stop the line").click()
    expect(page.locator(".notice.ok")).to_contain_text("The line is stopped")
    expect(page.locator(".notice.bad")).to_contain_text("incident 42")
    env = svc.client(headers={"Authorization": f"Bearer {svc.token('erin')}"}).get("/api/v1/environments").json()
    assert env["stopTheLine"]["reason"] == "incident 42" and env["stopTheLine"]["by"] == "admin"

    page.get_by_role("button", name="Resume the line").click()
    expect(page.locator(".notice.ok")).to_contain_text("running again")

    page.get_by_label("Environment", exact=True).select_option("prod")
    page.get_by_label("Rule (RFC 5545)").fill("FREQ=WEEKLY;BYDAY=FR;BYHOUR=16")
    page.get_by_label("Duration", exact=True).fill("64h")
    page.locator("#fz-reason").fill("weekend")
    page.get_by_role("button", name="Add freeze window").click()
    expect(page.locator(".notice.ok")).to_contain_text("Freeze window added")
    windows = _prod(svc)["freezeWindows"]
    assert [(w["rrule"], w["reason"]) for w in windows] == [("FREQ=WEEKLY;BYDAY=FR;BYHOUR=16", "weekend")]

    page.get_by_label("User", exact=True).fill("frank")
    page.get_by_label("requester").check()
    page.get_by_label("deployer").check()
    page.get_by_role("button", name="Add user or grant roles").click()
    expect(page.locator(".notice.ok")).to_contain_text("User saved")
    expect(page.locator("section[aria-label=Users] tr", has_text="frank")).to_contain_text("yes")
    shot(page, "admin")

    page.get_by_role("button", name=f"Remove freeze window {windows[0]['id']}").click()
    expect(page.locator(".notice.ok")).to_contain_text("Freeze window removed")
    assert _prod(svc)["freezeWindows"] == []

    actions = [e["action"] for e in _cli_events(svc)]
    for action in ("site.stop-the-line", "env.freeze", "env.unfreeze", "user.add"):
        assert action in actions


def _prod(svc: Service) -> dict[str, Any]:
    envs = _cli_json(svc, "env", "list")
    assert isinstance(envs, list)
    found: dict[str, Any] = next(e for e in envs if e["name"] == "prod")
    return found


def _cli_events(svc: Service) -> list[dict[str, Any]]:
    items = _cli_json(svc, "audit", "log", "--limit", "100")
    assert isinstance(items, list)
    return items


def test_a_non_admin_is_refused_like_the_cli_and_nothing_changes(fresh_service: Service) -> None:
    svc = fresh_service
    erin = svc.login("erin")                 # auditor, not admin
    token = erin.headers.pop("X-CSRF-Token")
    r = erin.post("/admin/stop-the-line", data={"reason": "not mine", "csrf_token": token})
    cli = svc.stella("env", "stop-the-line", "--reason", "not mine", user="erin")
    assert r.status_code == 403 and "missing-role" in r.text and "lacks the admin role" in r.text
    assert cli.exit_code != 0 and "lacks the admin role" in cli.output
    r = erin.post("/admin/users", data={"name": "mallory", "roles": "admin", "csrf_token": token})
    assert r.status_code == 403 and "missing-role" in r.text
    env = svc.client(headers={"Authorization": f"Bearer {svc.token('erin')}"}).get("/api/v1/environments").json()
    assert env["stopTheLine"] is None
    assert "mallory" not in svc.stella("user", "list", user="admin").output

    admin = svc.login("admin")
    token = admin.headers.pop("X-CSRF-Token")
    bad = admin.post("/admin/users", data={"name": "<img src=x>", "roles": "requester", "csrf_token": token})
    assert bad.status_code == 400 and "bad-name" in bad.text and "<img src=x>" not in bad.text
    no_rule = admin.post("/admin/freeze", data={"environment": "prod", "duration": "1h", "reason": "r",
                                                "csrf_token": token})
    assert no_rule.status_code == 400 and "rrule" in no_rule.text
    no_csrf = admin.post("/admin/stop-the-line", data={"reason": "x"})
    assert no_csrf.status_code == 403 and "csrf" in no_csrf.text
