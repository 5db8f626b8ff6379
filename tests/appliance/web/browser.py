"""Browser tests' shared parts: Debian's chromium for pytest-playwright, browser contexts that
fail the test on any console error (a CSP violation included), logging in through the form,
and screenshots under $STELLA_SCREENSHOTS (default out/screenshots).

Import the fixtures by their function names (``browser_type_launch_args_fixture``,
``contexts_fixture``) into a test module; tests ask for ``browser_type_launch_args`` and
``contexts``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.appliance.helpers import ROOT
from tests.appliance.web.conftest import PASSWORDS, Service

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(os.environ.get("STELLA_SCREENSHOTS") or ROOT / "out" / "screenshots")

if not Path(CHROMIUM).is_file():
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"{CHROMIUM} is missing (build.sh installs Debian's chromium)")
    pytest.skip(f"{CHROMIUM} is not installed (build.sh installs it)", allow_module_level=True)



@pytest.fixture(scope="session", name="browser_type_launch_args")
def browser_type_launch_args_fixture(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's chromium (``channel`` would look for branded Chrome), headless, no network chatter."""
    return {**browser_type_launch_args, "headless": True, "executable_path": CHROMIUM,
            "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run"]}


@pytest.fixture(name="contexts")
def contexts_fixture(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    """New browser contexts (one per user); at the end, no page broke the CSP or threw."""
    made: list[BrowserContext] = []
    complaints: list[str] = []

    def new(javascript: bool = True) -> BrowserContext:
        ctx = browser.new_context(java_script_enabled=javascript, viewport={"width": 1280, "height": 900})
        ctx.on("console", lambda m: complaints.append(m.text) if m.type == "error" else None)
        ctx.on("weberror", lambda e: complaints.append(str(e.error)))
        made.append(ctx)
        return ctx

    yield new
    for ctx in made:
        ctx.close()
    unexpected = [c for c in complaints if "status of 4" not in c]     # refusals the tests provoke (403, 401)
    assert unexpected == [], unexpected


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def log_in(ctx: BrowserContext, svc: Service, user: str, path: str = "/") -> Page:
    """Log in through the form (a plain post: works with JavaScript off) and land on *path*."""
    page = ctx.new_page()
    page.goto(svc.base_url + path)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_label("User").fill(user)
    page.get_by_label("Password").fill(PASSWORDS[user])
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(svc.base_url + path)
    expect(page.locator(".me")).to_contain_text(user)
    return page
