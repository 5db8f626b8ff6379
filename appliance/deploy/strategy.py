"""Rollout strategies of a deploy: all at once (today's deploy), rolling, canary.

    rolling  batches of ``window`` targets; after each batch its targets are probed (the
             deploy step's ``health``), then ``pause`` seconds before the next batch
    canary   the first ``canary`` targets, probed, ``soak`` seconds, probed again; then the rest
             in one batch, probed

Any failure (a target's rollout or a probe) ends the deploy through the same path as today
(:func:`outcome.fail`): every target already changed goes back to its previous lock file,
whole stack, and targets of later batches are never touched. Blue-green is not here (it
deploys beside the old stack, not over it). docs/deploy.md "Strategies".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import sqlite_utils

from appliance import testhooks
from appliance.deploy import plan, records, rollout
from appliance.deploy.outcome import Report, fail, succeed
from appliance.deploy.targets import Target
from appliance.home import Home
from appliance.runs import probe as probes
from appliance.runs.probe import ProbeSpec
from kit.gates.freeze import parse_duration

T = TypeVar("T")
Kind = Literal["all-at-once", "rolling", "canary"]
Progress = Callable[[float, str], None]
Sleep = Callable[[float], None]
Prober = Callable[[str, ProbeSpec], probes.ProbeResult]


@dataclass(frozen=True)
class Strategy:
    kind: Kind = "all-at-once"
    window: int = 1            # rolling: targets per batch
    pause: int = 0             # rolling: seconds between batches
    canary: int = 1            # canary: targets in the first batch
    soak: int = 0              # canary: seconds after the canary is healthy
    probe: ProbeSpec | None = None    # run on each batch's targets after the batch (the deploy step's ``health``)

    @property
    def plain(self) -> bool:
        """Today's deploy exactly: all at once, no probe (the deployment's records unchanged)."""
        return self.kind == "all-at-once" and self.probe is None

    def to_dict(self) -> dict[str, Any]:
        """What the deployment's detail records: the kind and the settings that apply to it."""
        doc: dict[str, Any] = {"kind": self.kind}
        if self.kind == "rolling":
            doc.update(window=self.window, pause=self.pause)
        elif self.kind == "canary":
            doc.update(canary=self.canary, soak=self.soak)
        doc["probe"] = self.probe.to_dict() if self.probe else None
        return doc


def _count(settings: Mapping[str, Any], key: str) -> int:
    value = settings.get(key, 1)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 1000:
        raise ValueError(f"{key} must be a whole number from 1 to 1000, not {value!r}")
    return value


def _duration(settings: Mapping[str, Any], key: str) -> int:
    text = settings.get(key)
    if text is None:
        return 0
    try:
        return parse_duration(str(text))
    except Exception as exc:     # KitFormatError: settings no validated template holds
        raise ValueError(f"{key}: not a duration: {text!r}") from exc


def from_settings(settings: Mapping[str, Any]) -> Strategy:
    """The strategy of a deploy step's ``with`` (``strategy``, ``window``, ``pause``,
    ``canary``, ``soak``, ``health``), as validated by kit/workflow/validate.py.

    Raises:
        ValueError: ``blue-green`` (deployed elsewhere: appliance/deploy/bluegreen), an unknown
            strategy, or settings a validated template cannot hold (a bad count, duration or probe).
    """
    kind = settings.get("strategy", "all-at-once")
    if kind == "blue-green":
        raise ValueError("blue-green is not a rollout over the targets: deploy it with the blue-green deploy")
    if kind not in ("all-at-once", "rolling", "canary"):
        raise ValueError(f"unknown strategy {kind!r} (all-at-once, rolling, canary, blue-green)")
    health = settings.get("health")
    if health is not None and not isinstance(health, Mapping):
        raise ValueError("health must be a mapping of probe settings")
    spec = probes.spec_from_settings(health) if health is not None else None
    if kind == "rolling":
        return Strategy("rolling", window=_count(settings, "window"), pause=_duration(settings, "pause"), probe=spec)
    if kind == "canary":
        return Strategy("canary", canary=_count(settings, "canary"), soak=_duration(settings, "soak"), probe=spec)
    return Strategy("all-at-once", probe=spec)


def batches(strategy: Strategy, targets: Sequence[T]) -> list[list[T]]:
    """The targets in the order they are deployed, batch by batch (no empty batch).

    all-at-once: one batch; rolling: ``window`` at a time; canary: the first ``canary``
    targets, then all the rest.
    """
    items = list(targets)
    if not items:
        return []
    if strategy.kind == "rolling":
        size = max(1, strategy.window)
        return [items[i:i + size] for i in range(0, len(items), size)]
    if strategy.kind == "canary":
        first = max(1, strategy.canary)
        return [part for part in (items[:first], items[first:]) if part]
    return [items]


# --- the rollout ------------------------------------------------------------------------------

@dataclass
class _Rollout:
    """One deployment rolled out batch by batch: what was done so far, for succeed/fail."""

    home: Home
    db: sqlite_utils.Database
    info: plan.ReleaseInfo
    report: Report
    timeout: int
    strategy: Strategy
    progress: Progress
    sleep: Sleep
    prober: Prober
    total: int

    def __post_init__(self) -> None:
        self.jobs: list[rollout.Job] = []
        self.results: dict[str, rollout.Result] = {}
        self.extra: dict[str, dict[str, Any]] = {}

    def label(self, number: int, count: int) -> str:
        s = self.strategy
        how = {"rolling": f"rolling, window {s.window}", "canary": f"canary {s.canary}"}.get(s.kind, s.kind)
        what = " (the canary)" if s.kind == "canary" and number == 1 and count > 1 else ""
        return f"batch {number}/{count}{what} ({how})"

    def deploy_batch(self, batch: list[Target], number: int, label: str) -> bool:
        for t in batch:
            done = len(self.jobs)
            self.progress(0.2 + 0.7 * done / self.total, f"{label}: target {done + 1}/{self.total} {t.name}: "
                          f"starting {self.report.release}, then health checks (up to {self.timeout:g} s)")
            lock_bytes = plan.render(self.home, self.db, self.info, t, self.report.environment,
                                     self.report.deployment)
            job = rollout.Job(t, lock_bytes, records.store_blob(self.home, lock_bytes), self.timeout)
            records.begin(self.db, self.report.deployment, t.name, lock_bytes, job.lock_hex)
            testhooks.pause("deploy-before-up")
            self.jobs.append(job)
            self.extra[t.name] = {"batch": number}
            self.results[t.name] = rollout.apply(self.home, job)
            if not self.results[t.name].ok:
                return False
        return True

    def probe_batch(self, batch: list[Target], label: str, when: str = "") -> bool:
        spec = self.strategy.probe
        if spec is None:
            return True
        for t in batch:
            host = probes.host_of(t)
            self.progress(0.2 + 0.7 * len(self.jobs) / self.total,
                          f"{label}: probing {t.name} ({spec.kind} {host}:{spec.port}){when}")
            res = self.prober(host, spec)
            self.extra[t.name].setdefault("probes", []).append(res.to_dict())
            if not res.ok:
                result = self.results[t.name]
                result.ok = False
                result.error = f"target {t.name}: health probe{when}: {res.error}"
                return False
        return True

    def wait(self, seconds: int, label: str, why: str) -> None:
        if seconds > 0:
            self.progress(0.2 + 0.7 * len(self.jobs) / self.total, f"{label}: {why} {seconds} s")
            self.sleep(seconds)

    def run(self, groups: list[list[Target]]) -> bool:
        s = self.strategy
        for number, batch in enumerate(groups, 1):
            label = self.label(number, len(groups))
            if not self.deploy_batch(batch, number, label) or not self.probe_batch(batch, label):
                return False
            last = number == len(groups)
            if s.kind == "rolling" and not last:
                self.wait(s.pause, label, "pause before the next batch:")
            if s.kind == "canary" and number == 1 and s.soak > 0:
                self.wait(s.soak, label, "soaking the canary:")
                if not self.probe_batch(batch, label, " after the soak"):
                    return False
        return True


def roll(home: Home, db: sqlite_utils.Database, info: plan.ReleaseInfo, report: Report, groups: list[list[Target]],
         timeout: int, actor: str, strategy: Strategy, progress: Progress, sleep: Sleep,
         prober: Prober | None = None) -> Report:
    """Deploy *groups* (``batches(strategy, targets)``) in order for a deployment already
    started (``report``); ends it through :func:`succeed` or :func:`fail` (every changed
    target back). Each target's facts and rollout record gain ``batch`` (1-based) and
    ``probes`` (each probe's result, when the strategy has one)."""
    state = _Rollout(home, db, info, report, timeout, strategy, progress, sleep,
                     prober or (lambda host, spec: probes.probe(host, spec)), sum(len(b) for b in groups))
    ok = state.run(groups)
    progress(0.9, "sealing the deployment's evidence")
    detail = {"strategy": strategy.to_dict(), "batches": [[t.name for t in b] for b in groups]}
    if ok:
        return succeed(home, db, info, report, state.jobs, state.results, actor, extra=state.extra, detail=detail)
    return fail(home, db, report, state.jobs, state.results, actor, extra=state.extra, detail=detail)
