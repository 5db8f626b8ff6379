"""The planner: GitHub Actions/Argo semantics on examples, and properties over random DAGs."""

from __future__ import annotations

import datetime as dt
import random

from hypothesis import given, settings, strategies as st

from kit.workflow.default import default_template
from kit.workflow.model import Backoff, Retry, Step, Template
from kit.workflow.plan import RunState, Start, Status, StepState, Verdict, is_final, plan, stopping

T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def at(seconds: int) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def done(status: Status, attempt: int = 1, when: int = 0, **outputs: object) -> StepState:
    return StepState(status, attempt, at(when), at(when), dict(outputs))  # type: ignore[arg-type]


def tpl(*steps: Step) -> Template:
    return Template("t", tuple(steps))


def test_the_default_path_runs_in_order_and_a_rejection_ends_the_run() -> None:
    t = default_template()
    first = plan(t, RunState(), T0)
    assert first.start == (Start("gates", 1),) and first.verdict is Verdict.RUNNING
    running = plan(t, RunState({"gates": StepState(Status.RUNNING, 1, T0)}), T0)
    assert running.start == () and running.verdict is Verdict.RUNNING
    assert plan(t, RunState({"gates": done(Status.SUCCEEDED)}), T0).start == (Start("approval", 1),)
    rejected = plan(t, RunState({"gates": done(Status.SUCCEEDED), "approval": done(Status.FAILED)}), T0)
    assert rejected.skip == ("deploy",) and rejected.verdict is Verdict.FAILED
    ok = {"gates": done(Status.SUCCEEDED), "approval": done(Status.SUCCEEDED), "deploy": done(Status.SUCCEEDED)}
    assert plan(t, RunState(ok), T0).verdict is Verdict.SUCCEEDED


def test_conditions_after_a_failure() -> None:
    t = tpl(Step("deploy", "deploy"),
            Step("smoke", "health", needs=("deploy",)),
            Step("undo", "rollback", needs=("smoke",), condition="failure()"),
            Step("tell", "notify", needs=("smoke",), condition="always()"),
            Step("only-if-failed", "notify", needs=("deploy",), condition="status('deploy') == 'failed'"),
            Step("explicit", "notify", needs=("deploy",), condition="always() && status('deploy') == 'failed'"))
    p = plan(t, RunState({"deploy": done(Status.FAILED)}), T0)
    # smoke is skipped (its need failed), then undo runs (an ancestor failed), tell always runs;
    # a condition without a status check means success() && (…): skipped
    assert p.skip == ("smoke", "only-if-failed")
    assert p.start == (Start("undo", 1), Start("tell", 1), Start("explicit", 1))
    assert p.verdict is Verdict.RUNNING


def test_a_skipped_need_skips_the_default_but_not_always() -> None:
    t = tpl(Step("a", "gate", condition="false"), Step("b", "fail", needs=("a",)),
            Step("c", "notify", needs=("a",), condition="always()"))
    p = plan(t, RunState(), T0)
    assert p.skip == ("a", "b") and p.start == (Start("c", 1),)
    assert plan(t, RunState({"a": done(Status.SKIPPED), "b": done(Status.SKIPPED), "c": done(Status.SUCCEEDED)}),
                T0).verdict is Verdict.SUCCEEDED


def test_continue_on_error_counts_as_success_for_dependents_and_the_verdict() -> None:
    t = tpl(Step("a", "script", continue_on_error=True), Step("b", "notify", needs=("a",)),
            Step("c", "notify", needs=("a",), condition="failure()"),
            Step("d", "notify", needs=("a",), condition="always() && status('a') == 'failed'"))
    p = plan(t, RunState({"a": done(Status.FAILED)}), T0)
    assert p.start == (Start("b", 1), Start("d", 1)) and p.skip == ("c",)
    final = {"a": done(Status.FAILED), "b": done(Status.SUCCEEDED), "c": done(Status.SKIPPED),
             "d": done(Status.SUCCEEDED)}
    assert plan(t, RunState(final), T0).verdict is Verdict.SUCCEEDED


def test_outputs_decide() -> None:
    t = tpl(Step("check", "script", outputs=("pending",)),
            Step("deploy", "deploy", needs=("check",), condition="outputs('check').pending == 0"))
    assert plan(t, RunState({"check": done(Status.SUCCEEDED, pending=0)}), T0).start == (Start("deploy", 1),)
    assert plan(t, RunState({"check": done(Status.SUCCEEDED, pending=3)}), T0).skip == ("deploy",)


def test_retries_wait_for_the_backoff_then_give_up() -> None:
    t = tpl(Step("a", "health", retry=Retry(2, Backoff(duration=10, factor=3, cap=20))))
    first_failure = RunState({"a": done(Status.FAILED, attempt=1, when=0)})
    waiting = plan(t, first_failure, at(5))
    assert waiting.start == () and waiting.wake_at == at(10) and waiting.verdict is Verdict.RUNNING
    assert plan(t, first_failure, at(10)).start == (Start("a", 2),)
    second = RunState({"a": done(Status.FAILED, attempt=2, when=100)})
    assert plan(t, second, at(119)).wake_at == at(120)          # 10 × 3 = 30, capped at 20
    assert plan(t, second, at(120)).start == (Start("a", 3),)
    exhausted = plan(t, RunState({"a": done(Status.FAILED, attempt=3, when=200)}), at(10_000))
    assert exhausted.start == () and exhausted.verdict is Verdict.FAILED


def test_timeouts_and_cancellation() -> None:
    t = tpl(Step("soak", "wait", timeout=60), Step("tell", "notify", needs=("soak",), condition="cancelled()"),
            Step("next", "deploy", needs=("soak",)))
    running = RunState({"soak": StepState(Status.RUNNING, 1, at(0))})
    assert plan(t, running, at(59)).wake_at == at(60)
    assert plan(t, running, at(60)).time_out == ("soak",)
    cancelled = RunState(running.steps, cancelled=True)
    p = plan(t, cancelled, at(10))
    assert p.cancel == ("soak",) and p.time_out == () and p.verdict is Verdict.RUNNING
    after = plan(t, RunState({"soak": done(Status.CANCELLED)}, cancelled=True), at(11))
    assert after.start == (Start("tell", 1),) and after.skip == ("next",)
    retry_left = tpl(Step("a", "health", retry=Retry(5)))
    assert plan(retry_left, RunState({"a": done(Status.FAILED)}, cancelled=True), at(99)).verdict is Verdict.CANCELLED


def test_a_rejection_ends_the_run_but_clean_up_still_runs() -> None:
    t = tpl(Step("gates", "gate"),
            Step("board", "approval", needs=("gates",)),
            Step("check", "script", needs=("gates",), retry=Retry(3)),
            Step("deploy", "deploy", needs=("board", "check")),
            Step("undo", "rollback", needs=("deploy",), condition="always() && status('deploy') == 'failed'"),
            Step("tell", "notify", needs=("board",), condition="always()"))
    run = RunState({"gates": done(Status.SUCCEEDED), "board": done(Status.FAILED, when=5),
                    "check": StepState(Status.RUNNING, 1, at(1))})
    p = plan(t, run, at(6))
    assert p.cancel == ("check",) and p.start == (Start("tell", 1),) and p.verdict is Verdict.RUNNING
    stopped = RunState({**run.steps, "check": done(Status.CANCELLED, when=6), "tell": done(Status.SUCCEEDED)})
    p = plan(t, stopped, at(7))
    assert p.skip == ("deploy", "undo") and p.verdict is Verdict.FAILED
    failed_check = RunState({**run.steps, "check": done(Status.FAILED, when=6)})
    assert plan(t, failed_check, at(1000)).start == (Start("tell", 1),)     # no retry once the run ended
    caught = tpl(Step("board", "approval", continue_on_error=True), Step("next", "notify", needs=("board",)))
    assert plan(caught, RunState({"board": done(Status.FAILED)}), T0).start == (Start("next", 1),)


# --- properties over random DAGs ------------------------------------------------------------

CONDITIONS = ("success()", "failure()", "always()", "cancelled()", "!failure()", "success() || failure()")


@st.composite
def templates(draw: st.DrawFn) -> Template:
    count = draw(st.integers(1, 12))
    steps = []
    for i in range(count):
        needs = tuple(sorted(draw(st.sets(st.sampled_from([f"s{j}" for j in range(i)]), max_size=3)))) if i else ()
        choices = list(CONDITIONS) + [f"always() && status('{n}') == 'failed'" for n in needs]
        uses = draw(st.sampled_from(["script", "script", "approval"]))
        steps.append(Step(f"s{i}", uses, needs=needs, condition=draw(st.sampled_from(choices)),
                          retry=Retry(draw(st.integers(0, 2)), Backoff(draw(st.integers(0, 30)), 2, 60)),
                          timeout=draw(st.sampled_from([None, 30, 120])),
                          continue_on_error=draw(st.booleans())))
    order = draw(st.permutations(steps))          # the template's order need not be topological
    return Template("random", tuple(order))


@settings(max_examples=300, deadline=None)
@given(templates(), st.integers(0, 2**32 - 1), st.booleans())
def test_random_runs_respect_needs_terminate_and_end_consistently(t: Template, seed: int, cancel: bool) -> None:
    rng = random.Random(seed)
    state: dict[str, StepState] = {}
    cancelled = False
    now = T0
    by_id = {s.id: s for s in t.steps}
    bound = len(t.steps) * 4 * 3 + 10
    for _ in range(bound):
        run = RunState(dict(state), cancelled)
        halting = stopping(t, run)
        p = plan(t, run, now)
        assert p == plan(t, run, now)                       # deterministic
        skipped_now = set(p.skip)
        for start in p.start:
            old = run.of(start.step)
            step = by_id[start.step]
            assert old.status in (Status.PENDING, Status.FAILED), "never starts a running or finished step"
            assert not is_final(step, old, halting)
            assert start.attempt == old.attempt + 1 <= step.retry.limit + 1
            for need in step.needs:                            # never before its needs finished
                assert need in skipped_now or is_final(by_id[need], run.of(need), halting)
        for ident in p.skip:
            assert run.of(ident).status is Status.PENDING
        for ident in p.time_out + p.cancel:
            assert run.of(ident).status is Status.RUNNING
        if halting:                                             # a stopping run starts no retry
            assert all(s.attempt == 1 for s in p.start)
            assert set(p.cancel) == {i for i, s in run.steps.items() if s.status is Status.RUNNING}
        finals = {s.id: is_final(s, run.of(s.id), halting) or s.id in skipped_now for s in t.steps}
        if p.verdict is not Verdict.RUNNING:
            assert all(finals.values()) and not p.start and not p.cancel and not p.time_out
            failed = any(run.of(s.id).status in (Status.FAILED, Status.CANCELLED) and not s.continue_on_error
                         for s in t.steps)
            expected = Verdict.CANCELLED if cancelled else (Verdict.FAILED if failed else Verdict.SUCCEEDED)
            assert p.verdict is expected
            return
        assert not all(finals.values())
        # the executor: apply the plan, then finish some running attempts or let time pass
        for ident in p.skip:
            state[ident] = StepState(Status.SKIPPED)
        for start in p.start:
            state[start.step] = StepState(Status.RUNNING, start.attempt, now)
        for ident in p.time_out:
            state[ident] = StepState(Status.FAILED, state[ident].attempt, state[ident].started_at, now)
        for ident in p.cancel:
            state[ident] = StepState(Status.CANCELLED, state[ident].attempt, state[ident].started_at, now)
        if cancel and not cancelled and rng.random() < 0.1:
            cancelled = True
        running = sorted(i for i, s in state.items() if s.status is Status.RUNNING)
        for n, ident in enumerate(running):
            if rng.random() < 0.6 or n == 0:                   # at least one attempt ends each round
                outcome = Status.SUCCEEDED if rng.random() < 0.6 else Status.FAILED
                state[ident] = StepState(outcome, state[ident].attempt, state[ident].started_at, now)
        if not p.start and not p.skip and not p.time_out and not p.cancel:
            now = max(now + dt.timedelta(seconds=1), p.wake_at or now)
    raise AssertionError(f"no verdict after {bound} plans")
