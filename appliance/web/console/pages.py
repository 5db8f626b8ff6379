"""The console's routes: pages (GET) and the no-JavaScript form posts (POST + a hidden CSRF field).

A page that needs a user redirects to ``/login`` when nobody is logged in. An action calls
the same appliance function as the CLI and the API, as the logged-in user; its refusal
(role, separation of duties, state, gate) is shown on the page it came from, with the
appliance's own kind and message and the status the API would answer.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import sqlite_utils
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from appliance import environments
from appliance.home import Home
from appliance.promotions import service, states
from appliance.web import auth
from appliance.web.caller import Caller
from appliance.web.console import views
from appliance.web.console.render import remembered, render
from appliance.web.deps import borrow, caller, database, home, maybe_caller, viewer
from appliance.web.errors import for_error
from kit.errors import StellaError

router = APIRouter(include_in_schema=False)
DB = Annotated[sqlite_utils.Database, Depends(database)]
Who = Annotated[Caller | None, Depends(maybe_caller)]
Viewer = Annotated[Caller | None, Depends(viewer)]   # async read-only pages: memoised reads, no thread hop
Acting = Annotated[Caller, Depends(caller)]      # a form post: logged in, CSRF field checked (403)
HomeDir = Annotated[Home, Depends(home)]
PAGE = 50


def _to_login(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def _problem(exc: StellaError) -> tuple[int, dict[str, str]]:
    status, body = for_error(exc)
    return status, {"kind": body["error"]["kind"], "message": body["error"]["message"]}


@router.get("/")
async def pipeline(request: Request, who: Viewer) -> Response:
    if who is None:
        return _to_login(request)
    return remembered(request, who, "pipeline.html", views.pipeline)


@router.get("/releases")
async def release_list(request: Request, who: Viewer) -> Response:
    if who is None:
        return _to_login(request)
    return remembered(request, who, "releases.html", lambda db: {"releases": views.release_list(db)})


@router.get("/releases/{name:path}/{version}")
def release(name: str, version: str, request: Request, db: DB,
            h: HomeDir, who: Who) -> Response:
    """(On the thread pool: findings are matched for the page, too long for the event loop.)"""
    if who is None:
        return _to_login(request)
    return render(request, "release.html", db, who, **views.release_page(h, db, f"{name}@{version}"),
                  envs=[e.name for e in environments.ordered(db)])


def _promotions_context(db: sqlite_utils.Database, state: str | None, after: str | None,
                        release: str | None) -> dict[str, Any]:
    return {**views.promotion_list(db, state or None, after, PAGE), "state": state or "",
            "states": [*states.PENDING, *states.FINAL, states.DEPLOYING], "releases": views.release_choices(db),
            "envs": [e.name for e in environments.ordered(db)], "release_ref": release or ""}


@router.get("/promotions")
async def promotion_list(request: Request, who: Viewer, state: str | None = None, after: str | None = None,
                         release: str | None = None) -> Response:
    if who is None:
        return _to_login(request)
    return remembered(request, who, "promotions.html", lambda db: _promotions_context(db, state, after, release))


def _promotion(request: Request, db: sqlite_utils.Database, who: Caller, promotion_id: str, *, status: int = 200,
               notice: str | None = None, problem: dict[str, str] | None = None,
               checked: dict[str, Any] | None = None) -> Response:
    return render(request, "promotion.html", db, who, status=status, notice=notice, problem=problem, checked=checked,
                  **views.promotion_page(db, promotion_id))


NOTICES = {"approved": "Your approval was recorded.", "rejected": "The promotion was rejected.",
           "evaluated": "The gates were evaluated again.", "cancelled": "The promotion was cancelled.",
           "requested": "Promotion requested; its gates were evaluated."}


@router.get("/promotions/{promotion_id}")
async def promotion(promotion_id: str, request: Request, h: HomeDir, who: Viewer, done: str | None = None,
                    verify: int = 0) -> Response:
    if who is None:
        return _to_login(request)
    notice = NOTICES.get(done or "")
    if verify:      # a replay of the stored decision runs Rego: the thread pool, not the event loop
        return await run_in_threadpool(_verified_promotion, request, h, who, promotion_id, notice)
    return remembered(request, who, "promotion.html",
                      lambda db: {**views.promotion_page(db, promotion_id), "notice": notice, "problem": None,
                                  "checked": None})


def _verified_promotion(request: Request, h: Home, who: Caller, promotion_id: str, notice: str | None) -> Response:
    with borrow(request) as db:
        try:
            checked = views.verify_replay(h, db, promotion_id)
        except StellaError as exc:
            status, problem = _problem(exc)
            return _promotion(request, db, who, promotion_id, status=status, problem=problem)
        return _promotion(request, db, who, promotion_id, notice=notice, checked=checked)


@router.post("/promotions")
def request_promotion(request: Request, release: str = Form(...), environment: str = Form(...),
                      reason: str = Form(...), *, h: HomeDir,
                      db: DB,
                      acting: Acting) -> Response:
    try:
        out = service.promote(h, db, release, environment, reason, acting.user)
    except StellaError as exc:
        status, problem = _problem(exc)
        return render(request, "promotions.html", db, acting, status=status, problem=problem,
                      **_promotions_context(db, None, None, release))
    return RedirectResponse(f"/promotions/{quote(out.promotion.id)}?done=requested", status_code=303)


def _act(request: Request, db: sqlite_utils.Database, acting: Caller, promotion_id: str, done: str,
         action: Any) -> Response:
    """Run *action* (an appliance call); on success back to the page (303), else the page with the refusal."""
    try:
        action()
    except StellaError as exc:
        status, problem = _problem(exc)
        return _promotion(request, db, acting, promotion_id, status=status, problem=problem)
    return RedirectResponse(f"/promotions/{quote(promotion_id)}?done={done}", status_code=303)


@router.post("/promotions/{promotion_id}/approve")
def approve(promotion_id: str, request: Request, comment: str = Form(""),
            *, h: HomeDir, db: DB,
            acting: Acting) -> Response:
    from appliance.deploy import auto
    return _act(request, db, acting, promotion_id, "approved",
                lambda: auto.approve(h, db, promotion_id, acting.user, comment or None))


@router.post("/promotions/{promotion_id}/reject")
def reject(promotion_id: str, request: Request, comment: str = Form(""),
           *, h: HomeDir, db: DB,
           acting: Acting) -> Response:
    return _act(request, db, acting, promotion_id, "rejected",
                lambda: service.reject(h, db, promotion_id, acting.user, comment))


@router.post("/promotions/{promotion_id}/evaluate")
def evaluate(promotion_id: str, request: Request, *, h: HomeDir,
             db: DB, acting: Acting) -> Response:
    return _act(request, db, acting, promotion_id, "evaluated",
                lambda: service.recheck(h, db, promotion_id, acting.user))


@router.post("/promotions/{promotion_id}/cancel")
def cancel(promotion_id: str, request: Request, reason: str = Form(""),
           *, h: HomeDir, db: DB, acting: Acting) -> Response:
    return _act(request, db, acting, promotion_id, "cancelled",
                lambda: service.cancel(db, promotion_id, acting.user, reason, home=h))


@router.get("/kits")
async def kits(request: Request, who: Viewer) -> Response:
    if who is None:
        return _to_login(request)
    return remembered(request, who, "kits.html", lambda db: {**views.kits(db), "budgets": views.staleness(db)})


@router.get("/deployments")
def deployments(request: Request, drift: int = 0, *, h: HomeDir,
                db: DB, who: Who) -> Response:
    if who is None:
        return _to_login(request)
    return render(request, "deployments.html", db, who, **views.deployments(h, db, bool(drift)))


@router.get("/audit")
def audit_log(request: Request, before: int | None = None, verify: int = 0,
              *, db: DB, who: Who) -> Response:
    if who is None:
        return _to_login(request)
    from appliance import audit
    problems = audit.verify(db) if verify else None
    return render(request, "audit.html", db, who, **views.audit_page(db, before, PAGE), verified=bool(verify),
                  problems=problems)


def _local(target: str | None) -> str:
    """A redirect target on this site only (a path, never ``//host`` or a scheme)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login")
def login_page(request: Request, db: DB, who: Who, next: str = "/") -> Response:
    if who is not None:
        return RedirectResponse(_local(next), status_code=303)
    return render(request, "login.html", db, None, next=_local(next), user="")


@router.post("/login")
def login(request: Request, db: DB, user: str = Form(...), password: str = Form(...),
          next: str = Form("/")) -> Response:
    """The no-JavaScript login: a plain form post (no CSRF token yet: there is no session)."""
    response = RedirectResponse(_local(next), status_code=303)
    try:
        auth.login_form(request, response, db, user, password)
    except StellaError as exc:
        status, problem = _problem(exc)
        return render(request, "login.html", db, None, status=status, problem=problem, next=_local(next),
                      user=user)
    return response


@router.post("/logout")
def logout(request: Request, db: DB, acting: Acting) -> Response:
    response = RedirectResponse("/login", status_code=303)
    auth.logout_form(request, response, db, acting)
    return response
