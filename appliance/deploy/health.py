"""Waiting for a target's services to be running and healthy, woken by the engine's events.

``docker compose up --wait`` polls: on this engine it returns ~0.45 s after the last
healthcheck passed. The deploy runs ``up --detach`` and waits here instead: it opens the
engine's event stream for the project *before* Compose starts (so nothing is missed and no
clock is compared), re-reads the containers whenever an event arrives (or every
``POLL_SECONDS`` in case the stream is silent), and decides with :func:`verdict`.

The rules are Compose's ``--wait`` rules: every service of the lock file has its
containers running, and healthy where it has a healthcheck. A container that exited, died
or turned unhealthy fails at once (a healthcheck still ``starting`` is waited for); so do
a wrong image digest, changed labels, a missing container or one the lock file does not
name, since waiting cannot mend those.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from enum import Enum
from typing import Any

from kit.deploy.drift import Difference, Observed

POLL_SECONDS = 0.5
WAITABLE_STATES = ("created", "restarting")    # on their way to running


class Verdict(Enum):
    OK = "ok"
    WAIT = "wait"
    FAIL = "fail"


def verdict(seen: list[Observed], diffs: list[Difference]) -> Verdict:
    """OK when nothing differs; WAIT while every difference can still resolve itself."""
    if not diffs:
        return Verdict.OK
    for d in diffs:
        if d.kind == "unhealthy" and all(o.health == "starting" for o in seen if o.service == d.service):
            continue
        if d.kind == "stopped" and all(o.state in WAITABLE_STATES for o in seen if o.service == d.service):
            continue
        return Verdict.FAIL
    return Verdict.WAIT


class Wakeups:
    """The engine's container events for one project, as a signal to look again."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self._flag = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="engine-events", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        try:
            for _event in self._stream:
                self._flag.set()
        except Exception:   # noqa: BLE001 — the stream ends with an error when closed; polling goes on
            pass

    def sleep(self, seconds: float) -> None:
        """Until the next event, or *seconds*."""
        self._flag.wait(max(0.0, seconds))
        self._flag.clear()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._stream.close()


@contextlib.contextmanager
def watching(c: Any, project: str) -> Iterator[Wakeups | None]:
    """Container events of *project* from now on (None when the engine will not stream them:
    the wait then polls)."""
    try:
        stream = c.events(decode=True, filters={"type": "container",
                                                "label": f"com.docker.compose.project={project}"})
    except Exception:   # noqa: BLE001 — events are an optimisation; polling is always correct
        yield None
        return
    wake = Wakeups(stream)
    try:
        yield wake
    finally:
        wake.close()


def wait(look: Any, timeout: float, wake: Wakeups | None) -> tuple[list[Observed], list[Difference], bool]:
    """Call *look()* → (observed, differences) until the verdict is OK or FAIL, or *timeout*
    seconds pass. Returns the last look and whether the time ran out."""
    deadline = time.monotonic() + timeout
    while True:
        seen, diffs = look()
        decided = verdict(seen, diffs)
        left = deadline - time.monotonic()
        if decided is not Verdict.WAIT:
            return seen, diffs, False
        if left <= 0:
            return seen, diffs, True
        if wake is None:
            time.sleep(min(POLL_SECONDS, left))
        else:
            wake.sleep(min(POLL_SECONDS, left))
