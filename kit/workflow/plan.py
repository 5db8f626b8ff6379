"""The planner: (template, the run's state so far, now) → what to do next, and the verdict.

Pure: no I/O, no clock (``now`` is an input), so a run can be replayed from its recorded
states and every rule is unit-tested. The appliance (later) executes what a plan says and
records each step's new state; calling ``plan`` again with that state gives the next plan.
Semantics as in GitHub Actions jobs and Argo DAG tasks (docs/workflows.md "Planning"):

- a step waits until every step it ``needs`` is final; then its condition decides: run it,
  or skip it. The default condition is ``success()``; a condition without a status check
  means ``success() && (condition)``;
- ``success()``: every direct need succeeded (or failed with ``continueOnError``), no
  step it needs directly or indirectly failed, and the run is not stopping (below);
  ``failure()``: a step it needs, directly or indirectly, failed (``continueOnError``
  failures do not count); ``cancelled()``: the run was cancelled; ``always()``: true;
- a failed attempt is retried while attempts remain (``retry.limit`` more), after the
  backoff; a running attempt older than ``timeout`` is to be stopped and recorded failed
  (and may then be retried); a cancelled run retries nothing and stops what runs;
- a failed step whose type ends the run (``approval``: a rejection) stops the run the same
  way, except that ``cancelled()`` stays false: what runs after it is what a condition
  such as ``always()`` or ``failure()`` asks for;
- the verdict is ``running`` until every step is final, then ``cancelled`` (run cancelled),
  ``failed`` (a step failed without ``continueOnError``) or ``succeeded``.
"""

from __future__ import annotations

import datetime as dt
import enum
import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field

from kit.workflow import expr
from kit.workflow.model import Step, Template
from kit.workflow.steps import REGISTRY


class Status(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class Verdict(enum.StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class StepState:
    """What the executor recorded for one step: its latest attempt (1-based; 0 = never started)."""

    status: Status = Status.PENDING
    attempt: int = 0
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    outputs: Mapping[str, expr.Value] = field(default_factory=dict)


PENDING = StepState()


@dataclass(frozen=True)
class RunState:
    steps: Mapping[str, StepState] = field(default_factory=dict)    # a step not listed is pending
    cancelled: bool = False

    def of(self, ident: str) -> StepState:
        return self.steps.get(ident, PENDING)


@dataclass(frozen=True)
class Start:
    step: str
    attempt: int


@dataclass(frozen=True)
class Plan:
    start: tuple[Start, ...]         # start these attempts now
    skip: tuple[str, ...]            # record these steps skipped (their condition is false)
    time_out: tuple[str, ...]        # running attempts past their timeout: stop them, record failed
    cancel: tuple[str, ...]          # running steps of a stopping run: stop them, record cancelled
    verdict: Verdict
    wake_at: dt.datetime | None      # plan again then at the latest (a retry falls due, a timeout ends)


def topological(template: Template) -> tuple[Step, ...]:
    """The steps, each after all it needs, the earliest in template order first (Kahn's algorithm;
    a validated template is acyclic)."""
    waiting = {s.id: len(set(s.needs)) for s in template.steps}
    needed_by: dict[str, list[Step]] = {s.id: [] for s in template.steps}
    for step in template.steps:
        for need in set(step.needs):
            needed_by[need].append(step)
    position = {s.id: i for i, s in enumerate(template.steps)}
    ready = [(position[s.id], s) for s in template.steps if not waiting[s.id]]
    heapq.heapify(ready)
    order: list[Step] = []
    while ready:
        _, step = heapq.heappop(ready)
        order.append(step)
        for later in needed_by[step.id]:
            waiting[later.id] -= 1
            if not waiting[later.id]:
                heapq.heappush(ready, (position[later.id], later))
    if len(order) != len(template.steps):
        raise ValueError("the template's needs form a cycle")
    return tuple(order)


def retry_due(step: Step, state: StepState) -> dt.datetime | None:
    """When a failed attempt's retry falls due; None when no attempt remains."""
    if state.status is not Status.FAILED or state.attempt > step.retry.limit:
        return None
    after = step.retry.backoff.delay(state.attempt)
    base = state.finished_at or state.started_at
    return base + dt.timedelta(seconds=after) if base is not None else None


def ended(template: Template, run: RunState) -> bool:
    """Whether a step whose type ends the run on failure (an approval's rejection) has failed
    for good (no ``continueOnError``, no attempt left)."""
    return any(REGISTRY[s.uses].ends_run and not s.continue_on_error and run.of(s.id).status is Status.FAILED
               and run.of(s.id).attempt > s.retry.limit for s in template.steps if s.uses in REGISTRY)


def stopping(template: Template, run: RunState) -> bool:
    """Whether *run* is stopping: cancelled, or ended by a step (see :func:`ended`)."""
    return run.cancelled or ended(template, run)


def is_final(step: Step, state: StepState, stopping: bool) -> bool:
    """Whether *state* is the step's last: succeeded, skipped, cancelled, or failed with no
    attempt left or in a run that is *stopping* (cancelled, or ended by a step)."""
    if state.status in (Status.SUCCEEDED, Status.SKIPPED, Status.CANCELLED):
        return True
    if state.status is Status.FAILED:
        return stopping or state.attempt > step.retry.limit
    return False


class _Outcomes:
    """Final outcomes so far (recorded, plus the skips this plan decides)."""

    def __init__(self, template: Template, run: RunState) -> None:
        self.template = template
        self.run = run
        self.stopping = run.cancelled or ended(template, run)
        self.final: dict[str, Status] = {}
        self.failed_uncaught: set[str] = set()
        self.tainted: dict[str, bool] = {}      # the step, or one it needs (indirectly too), failed uncaught

    def settle(self, step: Step, status: Status) -> None:
        self.final[step.id] = status
        if status is Status.FAILED and not step.continue_on_error:
            self.failed_uncaught.add(step.id)
        self.tainted[step.id] = step.id in self.failed_uncaught or self.failed_above(step)

    def failed_above(self, step: Step) -> bool:
        """Whether a step *step* needs, directly or indirectly, failed without continueOnError."""
        return any(self.tainted.get(n, False) for n in step.needs)

    def ok(self, ident: str) -> bool:
        return self.final[ident] is Status.SUCCEEDED or (
            self.final[ident] is Status.FAILED and ident not in self.failed_uncaught)

    def context(self, step: Step) -> expr.Context:
        failed_above = self.failed_above(step)
        return expr.Context(
            success=not self.stopping and not failed_above and all(self.ok(n) for n in step.needs),
            failure=failed_above, cancelled=self.run.cancelled,
            status=lambda ident: str(self.final.get(ident, self.run.of(ident).status)),
            output=lambda ident, name: self.run.of(ident).outputs.get(name))


def plan(template: Template, run: RunState, now: dt.datetime) -> Plan:
    """What to do next in *run* of *template* at *now* (see the module's rules)."""
    outcomes = _Outcomes(template, run)
    start: list[Start] = []
    skip: list[str] = []
    time_out: list[str] = []
    cancel: list[str] = []
    wakes: list[dt.datetime] = []
    open_steps = 0
    for step in topological(template):
        state = run.of(step.id)
        if is_final(step, state, outcomes.stopping):
            outcomes.settle(step, state.status)
            continue
        open_steps += 1
        if state.status is Status.RUNNING:
            deadline = (state.started_at + dt.timedelta(seconds=step.timeout)
                        if step.timeout is not None and state.started_at is not None else None)
            if outcomes.stopping:
                cancel.append(step.id)
            elif deadline is not None and now >= deadline:
                time_out.append(step.id)
            elif deadline is not None:
                wakes.append(deadline)
        elif state.status is Status.FAILED:
            due = retry_due(step, state) or now
            if now >= due:
                start.append(Start(step.id, state.attempt + 1))
            else:
                wakes.append(due)
        elif all(n in outcomes.final for n in step.needs):
            if expr.truthy(expr.evaluate(step.parsed, outcomes.context(step))):
                start.append(Start(step.id, state.attempt + 1))
            else:
                skip.append(step.id)
                outcomes.settle(step, Status.SKIPPED)
                open_steps -= 1
    return Plan(tuple(start), tuple(skip), tuple(time_out), tuple(cancel),
                _verdict(open_steps, run.cancelled, outcomes), min(wakes) if wakes else None)


def _verdict(open_steps: int, cancelled: bool, outcomes: _Outcomes) -> Verdict:
    if open_steps:
        return Verdict.RUNNING
    if cancelled:
        return Verdict.CANCELLED
    if outcomes.failed_uncaught or any(s is Status.CANCELLED for s in outcomes.final.values()):
        return Verdict.FAILED
    return Verdict.SUCCEEDED
