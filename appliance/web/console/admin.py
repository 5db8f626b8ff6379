"""The console's admin page and its actions (admin role): users and their roles, freeze
windows, stop-the-line. Each action is a no-JavaScript form post calling the function the
CLI calls (``stella user add``, ``stella env freeze|unfreeze|stop-the-line|resume``), as
the logged-in user: the role check and the audit event are that function's, and a refusal
is shown on the page with its kind. Targets are listed; they are managed with
``stella target`` (an engine address is a host decision, not a form field).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

import sqlite_utils
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from appliance import environments, users
from appliance.deploy import targets
from appliance.web.caller import Caller
from appliance.web.console.render import remembered, render
from appliance.web.deps import caller, database, viewer
from appliance.web.errors import for_error
from kit.errors import StellaError

router = APIRouter(include_in_schema=False)
DB = Annotated[sqlite_utils.Database, Depends(database)]
Viewer = Annotated[Caller | None, Depends(viewer)]
Acting = Annotated[Caller, Depends(caller)]      # logged in, CSRF field checked (403)

DONE = {"stopped": "The line is stopped: no promotion or deployment proceeds until it is resumed.",
        "resumed": "The line is running again.", "frozen": "Freeze window added.",
        "unfrozen": "Freeze window removed.", "user": "User saved."}


def context(db: sqlite_utils.Database) -> dict[str, Any]:
    envs = environments.ordered(db)
    return {"users": users.listing(db), "roles": users.ROLES, "envs": envs,
            "windows": {e.name: environments.windows(db, e.name) for e in envs},
            "stop": environments.stop_state(db), "targets": targets.listing(db)}


@router.get("/admin")
async def admin(request: Request, who: Viewer, done: str | None = None) -> Response:
    if who is None:
        return RedirectResponse("/login?next=%2Fadmin", status_code=303)
    notice = DONE.get(done or "")
    return remembered(request, who, "admin.html", lambda db: {**context(db), "notice": notice})


def _act(request: Request, db: sqlite_utils.Database, acting: Caller, done: str,
         action: Callable[[], object]) -> Response:
    """Run *action*; on success back to the page (303), else the page with the refusal and its status."""
    try:
        action()
    except StellaError as exc:
        status, body = for_error(exc)
        problem = {"kind": body["error"]["kind"], "message": body["error"]["message"]}
        return render(request, "admin.html", db, acting, status=status, problem=problem, **context(db))
    return RedirectResponse(f"/admin?done={quote(done)}", status_code=303)


@router.post("/admin/stop-the-line")
def stop_the_line(request: Request, db: DB, acting: Acting, reason: str = Form("")) -> Response:
    return _act(request, db, acting, "stopped", lambda: environments.stop_the_line(db, reason, acting.user))


@router.post("/admin/resume")
def resume(request: Request, db: DB, acting: Acting, reason: str = Form("")) -> Response:
    return _act(request, db, acting, "resumed", lambda: environments.resume(db, acting.user, reason or None))


@router.post("/admin/freeze")
def freeze(request: Request, db: DB, acting: Acting, environment: str = Form(...), rrule: str = Form(""),
           start: str = Form(""), duration: str = Form(""), tz: str = Form("UTC"),
           reason: str = Form("")) -> Response:
    return _act(request, db, acting, "frozen",
                lambda: environments.freeze(db, environment, rrule=rrule.strip() or None, start=start.strip() or None,
                                            duration=duration.strip(), tz=tz.strip() or "UTC", reason=reason,
                                            actor=acting.user))


@router.post("/admin/freeze/{window_id}/remove")
def unfreeze(window_id: str, request: Request, db: DB, acting: Acting) -> Response:
    return _act(request, db, acting, "unfrozen", lambda: environments.unfreeze(db, window_id, acting.user))


@router.post("/admin/users")
def add_user(request: Request, db: DB, acting: Acting, name: str = Form(...),
             roles: Annotated[list[str] | None, Form()] = None) -> Response:
    """Create a user or grant more roles (``stella user add NAME --role …``); the password is set
    with ``stella user passwd`` on the appliance, never through a form."""
    return _act(request, db, acting, "user",
                lambda: users.add(db, name.strip(), tuple(roles or ()), acting.user.name))
