"""What an act is: the appliance's side of a step type (kit/workflow/steps declares the type).

An act is called with a :class:`Context` when its step's attempt starts, and again whenever
the run is advanced while the attempt still waits (on people, on time, on a deployer) or
after the process that ran it died (``ctx.resumed``; the type's resume rule says what that
means: re-run, re-attach, or inspect what the engine runs first). It returns what happened:

- :class:`Done` / :class:`Failed`: the attempt ended; ``effect`` (a function of the DB) runs
  in the SAME transaction that records the end, so a database effect (an outbox entry, a
  decision record) and the step's state are never apart;
- :class:`Waiting`: the attempt goes on (the step stays running, without a lease); ``until``
  says when to look again at the latest (None: when something else happens).

An act that raises a StellaError was refused before it changed anything (a deploy whose
gates block now): the step keeps waiting and the error reaches the caller.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from appliance import users
from appliance.home import Home
from appliance.runs.store import Run
from kit.workflow.model import Step

Effect = Callable[[sqlite_utils.Database], None]
Progress = Callable[[float, str], None]


@dataclass
class Context:
    home: Home
    db: sqlite_utils.Database
    run: Run
    step: Step
    attempt: int
    key: str                        # the attempt's idempotency key (run/step/attempt)
    started_at: dt.datetime
    now: dt.datetime
    actor: str                      # on whose behalf this process advances the run
    deployer: users.User | None     # a deployer acting now (stella deploy, auto-deploy), if any
    log: Path                       # the attempt's log file (kept, digested into the evidence)
    resumed: bool = False           # the process that ran this attempt died
    progress: Progress | None = None
    sink: dict[str, Any] = field(default_factory=dict)     # what the caller wants back (a deploy report)

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.step.settings)

    def say(self, fraction: float, message: str) -> None:
        if self.progress is not None:
            self.progress(fraction, f"{self.step.id}: {message}")


@dataclass(frozen=True)
class Done:
    outputs: dict[str, Any] = field(default_factory=dict)
    message: str | None = None
    effect: Effect | None = None
    replay: dict[str, Any] | None = None     # what a verifier re-evaluates from the evidence (gate, approval)


@dataclass(frozen=True)
class Failed:
    message: str
    outputs: dict[str, Any] = field(default_factory=dict)
    effect: Effect | None = None
    replay: dict[str, Any] | None = None


@dataclass(frozen=True)
class Waiting:
    message: str
    until: dt.datetime | None = None
    outputs: dict[str, Any] | None = None


Outcome = Done | Failed | Waiting
Act = Callable[[Context], Outcome]
