"""Where held polls wait: one look at the database per tick for all of them.

A poll held for a task used to read the database itself four times a second: 200 idle
agents were 800 reads a second and about 30 ms of the service's CPU per heartbeat. Now each
held poll waits on an event, and one coroutine per service looks every tick with ONE query
for every waiting agent — a queued task, a revocation, a replaced certificate — and wakes
only those concerned, which then take their lease (or their refusal) as before.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from appliance.web.deps import borrow


@dataclass(eq=False)
class _Waiter:
    agent: str
    cert_sha256: str
    event: asyncio.Event = field(default_factory=asyncio.Event)


class Board:
    def __init__(self, tick: float) -> None:
        self.tick = tick
        self.waiters: set[_Waiter] = set()
        self.ticker: asyncio.Task[None] | None = None
        self.request: Request | None = None          # any live request: the way to the app's connections

    async def wait(self, request: Request, agent: str, cert_sha256: str, timeout: float) -> bool:
        """Until something concerns *agent* (True) or *timeout* seconds pass (False)."""
        waiter = _Waiter(agent, cert_sha256)
        self.waiters.add(waiter)
        self.request = request
        if self.ticker is None or self.ticker.done():
            self.ticker = asyncio.get_running_loop().create_task(self._run())
        try:
            await asyncio.wait_for(waiter.event.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            self.waiters.discard(waiter)

    async def _run(self) -> None:
        while self.waiters:
            await asyncio.sleep(self.tick)
            waiting = list(self.waiters)
            if not waiting or self.request is None:
                continue
            try:
                due = await run_in_threadpool(self._due, self.request, waiting)
            except Exception:             # noqa: BLE001 — a failed look wakes everyone: each looks for itself
                due = waiting
            for waiter in due:
                waiter.event.set()

    @staticmethod
    def _due(request: Request, waiting: list[_Waiter]) -> list[_Waiter]:
        names = sorted({w.agent for w in waiting})
        marks = ", ".join("?" * len(names))
        with borrow(request) as db:
            queued = {r[0] for r in db.execute(
                f"SELECT DISTINCT agent FROM agent_tasks WHERE state = 'queued' AND agent IN ({marks})", names)}
            now = {r[0]: (r[1], r[2]) for r in db.execute(
                f"SELECT name, revoked_at, cert_sha256 FROM agents WHERE name IN ({marks})", names)}
        return [w for w in waiting if w.agent in queued or w.agent not in now or now[w.agent][0] is not None
                or now[w.agent][1] != w.cert_sha256]


def board_of(request: Request, tick: float) -> Board:
    """The service's board (made by the first held poll)."""
    state = request.app.state
    found = getattr(state, "agent_board", None)
    if not isinstance(found, Board):
        found = Board(tick)
        state.agent_board = found
    return found
