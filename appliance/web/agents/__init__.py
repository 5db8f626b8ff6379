"""The agents' HTTP endpoints (docs/agent-protocol.md): a router of their own, mounted by the main
listener (registration only, in effect) and served alone by the agent listener (mutual TLS,
``create_agent_app``; docs/adr/0013-agent-listener.md).

``POST /agent/v1/register`` is the one endpoint an agent calls without a client certificate
(it has none yet): the one-time token authenticates it. ``poll``, ``result`` and ``renew``
take the client certificate the agent listener's handshake verified; anywhere else (the
main listener) they have none and refuse. The body is read up to ``MAX_BODY`` bytes and no
further; errors answer the API's JSON envelope with the kind the CLI would print, and a
refused call is audited (``agent.call-refused``, ``agent.result-refused``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from appliance.agents import ca, service, tasks, timing
from appliance.home import Home
from appliance.store.db import open_db
from appliance.web.agents.board import board_of
from appliance.web.agents.listen import peer_der
from appliance.web.deps import borrow, home_of
from appliance.web.errors import envelope, status_for
from kit.agentproto import MAX_BODY, BadMessage, Heartbeat, TaskResult, TokenRefused
from kit.agentproto.errors import CertificateRefused, LeaseRefused
from kit.errors import StellaError
from kit.timeutil import now

LOOK = 0.1          # seconds between the board's looks for queued tasks while polls are held
DISCONNECT_CHECK = 5.0   # a held poll also wakes this often to see whether its agent went away

PREFIX = "/agent/v1"
router = APIRouter(prefix=PREFIX, include_in_schema=False)


async def _body(request: Request, what: str = "register") -> bytes:
    """The request body, refused past MAX_BODY bytes before more is read."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise BadMessage(f"{what}: body of {declared[:20]} bytes, at most {MAX_BODY}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise BadMessage(f"{what}: body over {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _status(error: StellaError) -> int:
    """As the API's statuses, but a refused token or certificate is 403 (the caller is not who it must be)."""
    return 403 if isinstance(error, TokenRefused | CertificateRefused) else status_for(error)


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


@router.get("/ca")
async def agent_ca(request: Request) -> Response:
    """The agent CA's certificate (public): an agent registering on the agent listener fetches it and
    trusts it only when its SHA-256 is the fingerprint the admin gave (stella-agent register)."""
    found = ca.load(home_of(request))
    if found is None:
        return JSONResponse(envelope("unknown-agent", "no agent CA yet (stella agent token create makes it)"),
                            status_code=404)
    return Response(found.pem, media_type="application/x-pem-file")


def _refusal(exc: StellaError) -> JSONResponse:
    return JSONResponse(envelope(exc.kind, exc.detail()), status_code=_status(exc))


Work = Callable[[service.AgentInfo, bytes], Awaitable[bytes | None]]


async def _authenticated(request: Request, what: str, work: Work) -> Response:
    """Authenticate the caller by its certificate, read the body, await *work*: its bytes answer
    200, None 204. A refusal answers the envelope and is audited once: the certificate's by
    service.authenticate, a lease's by tasks.record, any other here (``agent.call-refused``)."""
    address = request.client.host if request.client else "?"
    der, path = peer_der(request.state), request.url.path
    agent: service.AgentInfo | None = None

    def check() -> service.AgentInfo:
        with borrow(request) as db:
            return service.authenticate(db, der, address, path)

    try:
        agent = await run_in_threadpool(check)
        answer = await work(agent, await _body(request, what))
    except StellaError as exc:
        if agent is not None and not isinstance(exc, LeaseRefused):
            name, error = agent.name, exc

            def note() -> None:
                with borrow(request) as db:
                    service.refuse_call(db, address, name, path, error)
            await run_in_threadpool(note)
        return _refusal(exc)
    if answer is None:
        return Response(status_code=204)
    return Response(answer, media_type="application/json")


@router.post("/poll")
async def poll(request: Request) -> Response:
    """A heartbeat; held up to the interval for a task: its lease (200) or nothing (204)."""
    held = timing.interval().total_seconds()

    def beat(agent: service.AgentInfo, body: bytes) -> Heartbeat:
        message = Heartbeat.from_json(body)
        if message.name != agent.name:
            raise CertificateRefused(f"the heartbeat names {message.name}; the certificate is {agent.name}'s")
        with borrow(request) as db:
            moment = now()
            service.heartbeat(db, agent.name, moment)
            tasks.expire(db, moment, agent=agent.name, held=message.running)
            tasks.extend(db, agent.name, message.running, moment)
        return message

    def look(agent: service.AgentInfo) -> bytes | None:
        with borrow(request) as db:
            current = service.get(db, agent.name)
            if current.revoked_at:                          # revoked while the poll was held
                raise service.revoked(current)
            if current.cert_sha256 != agent.cert_sha256:    # renewed meanwhile (by another connection)
                raise CertificateRefused(f"agent {agent.name}'s certificate was replaced during the poll")
            if not tasks.has_queued(db, agent.name):     # a read: no write lock taken while nothing is queued
                return None
            moment = now()
            service.heartbeat(db, agent.name, moment)
            lease = tasks.lease_next(db, agent.name, moment)
        return lease.to_json() if lease is not None else None

    def seen(agent: service.AgentInfo) -> None:
        with borrow(request) as db:
            service.heartbeat(db, agent.name, now())

    async def work(agent: service.AgentInfo, body: bytes) -> bytes | None:
        message = await run_in_threadpool(beat, agent, body)
        if message.running:         # one task at a time: a busy agent's heartbeat is answered at once
            return None
        deadline = time.monotonic() + held
        board = board_of(request, LOOK)
        while True:
            # held polls wait on the board (one look per tick for all of them, board.py), on the event loop
            found = await run_in_threadpool(look, agent)
            if found is not None:
                return found
            left = deadline - time.monotonic()
            if left <= 0 or await request.is_disconnected():
                await run_in_threadpool(seen, agent)         # connected all along: heard from until now
                return None
            await board.wait(request, agent.name, agent.cert_sha256, min(left, DISCONNECT_CHECK))

    return await _authenticated(request, "heartbeat", work)


@router.post("/result")
async def result(request: Request) -> Response:
    """A task result under a lease the agent holds (204; the first result under a lease stands)."""
    address = request.client.host if request.client else "?"

    def record(agent: service.AgentInfo, body: bytes) -> None:
        message = TaskResult.from_json(body)
        with borrow(request) as db:
            tasks.record(db, agent.name, message, now(), address)

    async def work(agent: service.AgentInfo, body: bytes) -> bytes | None:
        await run_in_threadpool(record, agent, body)
        return None

    return await _authenticated(request, "task result", work)


@router.post("/renew")
async def renew(request: Request) -> Response:
    """A CSR for a new key → a new client certificate (the current one is refused from then on)."""
    home = home_of(request)

    def issue(agent: service.AgentInfo, body: bytes) -> bytes:
        with borrow(request) as db:
            return service.renew(db, home, agent, body).to_json()

    async def work(agent: service.AgentInfo, body: bytes) -> bytes | None:
        return await run_in_threadpool(issue, agent, body)

    return await _authenticated(request, "renew", work)


def create_agent_app(home: Home) -> FastAPI:
    """An application serving only the agents' endpoints over *home* (what a listener of their own mounts)."""
    open_db(home.require().db_path).close()
    app = FastAPI(title="Stella Ops agents", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.home = home
    app.include_router(router)
    return app
