"""The server-rendered console (Jinja2, autoescaping; htmx shipped in ``static/``).

Pages read through the same appliance functions the CLI uses; actions are plain form
posts (a hidden CSRF field, so they work without JavaScript) to console routes that call
the same service functions as the API and the CLI, as the logged-in user. Nothing here
decides a rule: a refusal is the appliance's error, shown on the page with its kind.
Everything that comes from kits is untrusted text: templates autoescape it, and the
Content-Security-Policy forbids inline scripts and styles (static CSS and JS only).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

HERE = Path(__file__).parent


def install(app: FastAPI) -> None:
    """Mount the console's routes and static files on *app*."""
    from appliance.web.console import admin, pages, runs, work
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(pages.router)
    app.include_router(work.router)
    app.include_router(admin.router)
    app.include_router(runs.router)
    app.add_exception_handler(StarletteHTTPException, _not_found_or_so)


async def _not_found_or_so(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (an unknown path, a wrong method): a console page outside the API."""
    assert isinstance(exc, StarletteHTTPException)
    if request.url.path.startswith("/api/"):
        return await http_exception_handler(request, exc)
    kind = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
    return error_page(request, exc.status_code, {"error": {"kind": kind, "message": str(exc.detail)}})


def error_page(request: Request, status: int, body: dict[str, object]) -> Response:
    """An error as a console page: the kind and message the CLI and the API give, escaped."""
    from appliance.web.console.render import render_error
    return render_error(request, status, body)
