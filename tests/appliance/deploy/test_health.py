"""The health wait's rules (Compose's ``--wait`` rules) and its wake-ups, without an engine;
the rollout tests run the same code against the real one."""

from __future__ import annotations

import threading
import time

from appliance.deploy.health import Verdict, Wakeups, verdict, wait
from kit.deploy.drift import Difference, Observed


def _obs(service: str, state: str = "running", health: str | None = None) -> Observed:
    return Observed(f"p-{service}-1", service, state, health, ("sha256:" + "a" * 64,))


def test_running_and_healthy_is_ok_starting_waits_unhealthy_or_exited_fails() -> None:
    assert verdict([_obs("web", health="healthy"), _obs("db")], []) is Verdict.OK
    starting = [_obs("web", health="starting")]
    assert verdict(starting, [Difference("web", "unhealthy", "is starting")]) is Verdict.WAIT
    assert verdict([_obs("web", health="unhealthy")], [Difference("web", "unhealthy", "x")]) is Verdict.FAIL
    assert verdict([_obs("web", "created")], [Difference("web", "stopped", "x")]) is Verdict.WAIT
    assert verdict([_obs("web", "restarting")], [Difference("web", "stopped", "x")]) is Verdict.WAIT
    assert verdict([_obs("web", "exited")], [Difference("web", "stopped", "x")]) is Verdict.FAIL


def test_what_waiting_cannot_mend_fails_at_once_even_beside_a_starting_service() -> None:
    seen = [_obs("web", health="starting"), _obs("api")]
    for kind in ("image-digest", "labels", "missing", "extra", "lock-changed"):
        diffs = [Difference("web", "unhealthy", "is starting"), Difference("api", kind, "x")]
        assert verdict(seen, diffs) is Verdict.FAIL, kind


def test_wait_returns_when_settled_and_reports_a_timeout() -> None:
    looks = iter([([_obs("web", health="starting")], [Difference("web", "unhealthy", "starting")])] * 2
                 + [([_obs("web", health="healthy")], [])])
    seen, diffs, late = wait(lambda: next(looks), 5, None)
    assert not diffs and not late and seen[0].health == "healthy"

    stuck = ([_obs("web", health="starting")], [Difference("web", "unhealthy", "starting")])
    started = time.monotonic()
    seen, diffs, late = wait(lambda: stuck, 0.2, None)
    assert late and diffs == stuck[1] and time.monotonic() - started < 2


class _Stream:
    """An event stream that yields when told to, and ends when closed (as the SDK's does)."""

    def __init__(self) -> None:
        self.events: list[dict[str, str]] = []
        self.ready = threading.Condition()
        self.closed = False

    def push(self, event: dict[str, str]) -> None:
        with self.ready:
            self.events.append(event)
            self.ready.notify()

    def __iter__(self):  # type: ignore[no-untyped-def]
        while True:
            with self.ready:
                self.ready.wait_for(lambda: self.events or self.closed)
                if self.closed:
                    return
                yield self.events.pop(0)

    def close(self) -> None:
        with self.ready:
            self.closed = True
            self.ready.notify()


def test_an_engine_event_wakes_the_wait_before_its_poll_interval() -> None:
    stream = _Stream()
    wake = Wakeups(stream)
    try:
        threading.Timer(0.05, stream.push, [{"status": "health_status: healthy"}]).start()
        started = time.monotonic()
        wake.sleep(5)
        assert time.monotonic() - started < 2
    finally:
        wake.close()
    assert stream.closed
