"""The agents' HTTP endpoints (docs/agent-protocol.md): a router of their own, so ``stella serve``
mounts it today and the mutual-TLS listener can mount the same router later.

``POST /agent/v1/register`` is the one endpoint an agent calls without a client certificate
(it has none yet): the one-time token authenticates it. The body is read up to
``MAX_BODY`` bytes and no further; errors answer the API's JSON envelope with the kind the
CLI would print.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from appliance.agents import service
from appliance.home import Home
from appliance.store.db import open_db
from appliance.web.deps import borrow, home_of
from appliance.web.errors import envelope, status_for
from kit.agentproto import MAX_BODY, BadMessage, TokenRefused
from kit.errors import StellaError

PREFIX = "/agent/v1"
router = APIRouter(prefix=PREFIX, include_in_schema=False)


async def _body(request: Request) -> bytes:
    """The request body, refused past MAX_BODY bytes before more is read."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise BadMessage(f"register: body of {declared[:20]} bytes, at most {MAX_BODY}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise BadMessage(f"register: body over {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _status(error: StellaError) -> int:
    """As the API's statuses, but a refused token is 403 (the caller is not who it must be)."""
    return 403 if isinstance(error, TokenRefused) else status_for(error)


@router.post("/register")
async def register(request: Request) -> Response:
    """A one-time token, a name, a CSR → the agent's client certificate and the CA to pin."""
    address = request.client.host if request.client else "?"
    home = home_of(request)

    def work(body: bytes | None, error: StellaError | None) -> bytes:
        with borrow(request) as db:
            if error is not None:
                service._refused(db, address, None, error)
                raise error
            assert body is not None
            return service.register(db, home, body, address).to_json()

    try:
        try:
            body, early = await _body(request), None
        except BadMessage as exc:
            body, early = None, exc
        answer = await run_in_threadpool(work, body, early)
    except StellaError as exc:
        return JSONResponse(envelope(exc.kind, exc.detail()), status_code=_status(exc))
    return Response(answer, media_type="application/json")


def create_agent_app(home: Home) -> FastAPI:
    """An application serving only the agents' endpoints over *home* (what a listener of their own mounts)."""
    open_db(home.require().db_path).close()
    app = FastAPI(title="Stella Ops agents", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.home = home
    app.include_router(router)
    return app
