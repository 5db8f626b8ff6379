"""The ASGI application of ``stella serve``: API routers, console routes, error handlers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from appliance.home import Home
from appliance.store.db import open_db
from appliance.web.errors import HTTPProblem, envelope, for_error
from appliance.web.jobs import Worker
from appliance.web.runwaker import RunWaker
from appliance.web.security import SecurityHeaders
from appliance.web.snapshot import Snapshot
from kit import __version__
from kit.errors import StellaError


def create_app(home: Home, *, tls: bool = False) -> FastAPI:
    """The service for *home* (initialised; migrated here once, not per request)."""
    open_db(home.require().db_path).close()
    worker = Worker(home)
    snapshot = Snapshot(home.require().db_path)
    waker = RunWaker(home)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker.start()          # jobs a dead process left are marked interrupted first (appliance/jobs.py)
        waker.start()           # unfinished runs advanced once, then each when its wake-up is due
        try:
            yield
        finally:
            waker.stop()
            worker.stop()
            snapshot.close()

    app = FastAPI(title="Stella Ops appliance", version=__version__, openapi_url="/api/v1/openapi.json",
                  docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.home = home
    app.state.worker = worker
    app.state.snapshot = snapshot
    app.state.tls = tls
    app.add_middleware(SecurityHeaders, tls=tls)      # CSP, nosniff, no-store… on every response

    @app.exception_handler(StellaError)
    async def appliance_error(request: Request, exc: StellaError) -> Response:
        status, body = for_error(exc)
        return _error_response(request, status, body)

    @app.exception_handler(HTTPProblem)
    async def http_problem(request: Request, exc: HTTPProblem) -> Response:
        return _error_response(request, exc.status, envelope(exc.kind, exc.message))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        """A body, path or query parameter FastAPI could not parse: 400 in the one envelope."""
        return _error_response(request, 400, envelope("bad-request", validation_message(exc)))

    from appliance.web.api import ROUTERS
    for router in ROUTERS:
        app.include_router(router, prefix="/api/v1")
    from appliance.web.agents import router as agents_router
    app.include_router(agents_router)       # /agent/v1: registration (docs/agent-protocol.md)
    from appliance.web.console import install as install_console
    install_console(app)
    return app


def validation_message(exc: RequestValidationError) -> str:
    """One line naming each bad field: ``body.release: Input should be a valid string; …``."""
    return "; ".join(f"{'.'.join(str(part) for part in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
                     for e in exc.errors()) or "malformed request"


def _error_response(request: Request, status: int, body: dict[str, object]) -> Response:
    """API paths get the JSON envelope; console pages render it (console.error_page)."""
    if not request.url.path.startswith("/api/"):
        from appliance.web.console import error_page
        return error_page(request, status, body)
    return JSONResponse(body, status_code=status)
