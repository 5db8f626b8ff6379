"""Rendering console pages: one Jinja2 environment (autoescape on for every template),
the sealed-mode banner every page carries, and the error page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import jinja2
import sqlite_utils
from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from appliance.status import advisory_sources
from appliance.store.db import connect
from appliance.web.caller import Caller
from kit import __version__
from kit.timeutil import now, parse_time

ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("appliance.web.console", "templates"),
    autoescape=True,                       # every template, whatever its name: kit data is untrusted
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def ago(stamp: str | None, at: dt.datetime | None = None) -> str:
    """'3 h ago' for an RFC 3339 time (the exact time is shown beside it where it matters)."""
    if not stamp:
        return "never"
    try:
        seconds = int(((at or now()) - parse_time(stamp)).total_seconds())
    except (ValueError, TypeError):
        return stamp
    if seconds < 0:
        return "in the future"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


ENV.filters["ago"] = ago


def banner(db: sqlite_utils.Database) -> dict[str, Any]:
    """Sealed mode: the active kit (the last imported) and the advisory snapshot's age."""
    at = now()
    row = db.execute("SELECT name, channel, sequence, imported_at FROM kits "
                     "ORDER BY imported_at DESC, rowid DESC LIMIT 1").fetchone()
    sources = advisory_sources(db, at)
    newest = max((s["newest"] for s in sources), default=None)
    return {"kit": dict(zip(("name", "channel", "sequence", "importedAt"), row)) if row else None,
            "snapshot": newest, "snapshotAge": ago(newest, at) if newest else None,
            "sources": sources}


def render(request: Request, template: str, db: sqlite_utils.Database | None, who: Caller | None,
           status: int = 200, **context: Any) -> Response:
    """A page: *template* with the banner, the caller (for the nav and CSRF fields) and *context*."""
    return HTMLResponse(page_html(request, template, db, who, **context), status_code=status, headers=NO_STORE)


def page_html(request: Request, template: str, db: sqlite_utils.Database | None, who: Caller | None,
              **context: Any) -> str:
    """The text of the page :func:`render` answers."""
    context.setdefault("notice", None)
    context.setdefault("problem", None)
    return ENV.get_template(template).render(
        request=request, who=who, csrf=who.csrf_token if who and who.csrf_token else "",
        sealed=banner(db) if db is not None else None, version=__version__, path=request.url.path, **context)


def remembered(request: Request, who: Caller, template: str,
               context: Callable[[sqlite_utils.Database], dict[str, Any]]) -> Response:
    """A read-only page from the service's snapshot: rendered once per database change (and per
    second at most, for its clock-relative text) for this session and this address (path and
    query), then served from memory. Call from the event loop's thread only."""
    key = ("page", template, request.url.path, request.url.query, who.user, who.csrf_token)
    html = request.app.state.snapshot.read(key, lambda db: page_html(request, template, db, who, **context(db)))
    return HTMLResponse(html, headers=NO_STORE)


def render_error(request: Request, status: int, body: dict[str, object]) -> Response:
    error = body.get("error")
    kind = str(error.get("kind")) if isinstance(error, dict) else "error"
    message = str(error.get("message")) if isinstance(error, dict) else "error"
    db = None
    try:
        db = connect(request.app.state.home.db_path, any_thread=True)
        return render(request, "error.html", db, None, status=status, status_code=status, kind=kind, message=message)
    except Exception:                      # the database itself may be what failed: still answer
        return render(request, "error.html", None, None, status=status, status_code=status, kind=kind,
                      message=message)
    finally:
        if db is not None:
            db.close()
