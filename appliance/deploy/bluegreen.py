"""The ``blue-green`` rollout for Compose targets (docs/deploy.md "Blue-green", ADR 0012).

Per target, the new release starts beside the live one as Compose project
``<project>-blue`` or ``<project>-green`` (the colour not live), with its own port
(traffic.py), and is health-waited exactly like an all-at-once deploy (rollout.apply);
then the proxy's upstream file is rewritten to the new colour's port and the proxy
reloaded (the switch); then the step's probe, if any, runs against the switched target.
When every target of the environment has switched, the old colours are retired
(``compose down``, their sticker volumes removed) and the stickers of the new ones written.

Any failure rolls back the whole environment: every target already switched gets its
previous upstream file back (the proxy reloaded), and every new colour is stopped and
removed. The old colours were never touched, so users are back where they were at once;
a failure before a target's switch changed nothing users could see.

    deploy lock → orphans → per-target set-up (traffic.switch_for) → preflight → start_deployment
    → per target: new colour up + health → switch → probe
    → all switched: drain, retire old colours, stickers, ``deployment`` packet
    → else: switch back, remove new colours, ``rollback`` packet
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

import sqlite_utils

from appliance import testhooks, users
from appliance.deploy import bluegreen_end, plan, records, recovery, rollout, targets, traffic
from appliance.deploy.bluegreen_end import STRATEGY, Lane
from appliance.deploy.errors import BlueGreenNotSetUp
from appliance.deploy.outcome import Report, deploy_lock
from appliance.deploy.run import Progress, check
from appliance.deploy.targets import Target
from appliance.home import Home
from appliance.promotions import service
from kit.timeutil import format_time, now

Probe = Callable[[Target], "str | None"]     # None: healthy; else the reason it is not


def live(db: sqlite_utils.Database, t: Target) -> tuple[str | None, str | None]:
    """(colour, project) serving on *t* now, from its latest deployed rollout: (None, project)
    after an all-at-once deploy, (None, None) when nothing was deployed."""
    cur = records.current(db, t.name)
    if cur is None:
        return None, None
    colour = cur.detail.get("colour")
    if cur.detail.get("strategy") == STRATEGY and colour in traffic.COLOURS:
        return str(colour), str(cur.detail.get("project") or f"{t.project}-{colour}")
    return None, t.project


def lane(home: Home, db: sqlite_utils.Database, t: Target) -> Lane:
    """Raises BlueGreenNotSetUp (nothing changed)."""
    sw = traffic.switch_for(t)
    colour, project = live(db, t)
    new = traffic.other(colour)
    coloured = dataclasses.replace(t, project=f"{t.project}-{new}",
                                   env_file=str(traffic.colour_env_file(home, t, new, sw)))
    return Lane(t, sw, colour, project, new, coloured)


def deploy(home: Home, db: sqlite_utils.Database, promotion_id: str, deployer: users.User, *,
           probe: Probe | None = None, trigger: dict[str, Any] | None = None,
           progress: Progress | None = None) -> Report:
    """Deploy the promotion blue-green to every target of its environment (after finishing
    any orphaned deployment). Returns the report, ok or not.

    *probe* is the step's health check, called per target after its switch with the target
    as the new colour (``project`` is ``<project>-<colour>``): None means healthy, a string
    is why not (the environment then rolls back). *trigger* is kept in the deployment
    row's detail; *progress* hears each step.

    Raises before anything changes: BlueGreenNotSetUp, GatesBlocked, StateConflict,
    LockError, RegistryError, EngineDown, DeployConflict, NoTargets.
    """
    with deploy_lock(home):
        recovery.recover(home, db, deployer.name)
        return _deploy(home, db, promotion_id, deployer, probe, trigger or {}, progress or _quiet)


def _quiet(fraction: float, message: str) -> None:
    pass


def _deploy(home: Home, db: sqlite_utils.Database, promotion_id: str, deployer: users.User, probe: Probe | None,
            trigger: dict[str, Any], progress: Progress) -> Report:
    p = check(db, promotion_id, deployer)
    info = plan.load_release(home, db, p.release)
    lanes = [lane(home, db, t) for t in targets.listing(db, p.environment)]
    progress(0.15, f"checking {len(lanes)} target(s) of {p.environment}: engines, registry, images")
    plan.preflight(home, db, info, p.environment, [ln.coloured for ln in lanes])
    timeout = targets.settings(db, p.environment).health_timeout
    dep_id, _ = service.start_deployment(home, db, p.id, deployer, detail={
        **trigger, "strategy": STRATEGY, "targets": [ln.target.name for ln in lanes], "healthTimeout": timeout,
        "colours": {ln.target.name: ln.colour for ln in lanes}})
    report = Report(dep_id, p.id, p.release, p.environment)
    for i, ln in enumerate(lanes):
        progress(0.2 + 0.7 * i / len(lanes), f"target {i + 1}/{len(lanes)} {ln.target.name}: starting "
                 f"{p.release} as {ln.colour} ({ln.coloured.project}), then health checks (up to {timeout:g} s), "
                 "then the switch")
        if not _roll(home, db, info, p.environment, dep_id, ln, timeout, probe):
            break
    progress(0.9, "retiring the old colours and sealing the deployment's evidence" if all(ln.ok for ln in lanes)
             else "switching back, removing the new colours and sealing the evidence")
    if all(ln.ok for ln in lanes):
        return bluegreen_end.succeed(home, db, info, report, lanes, deployer.name)
    return bluegreen_end.fail(home, db, report, lanes, deployer.name)


def _roll(home: Home, db: sqlite_utils.Database, info: plan.ReleaseInfo, environment: str, dep_id: str, ln: Lane,
          timeout: int, probe: Probe | None) -> bool:
    """New colour up and healthy, traffic switched, probe passed: True. Else the lane says why."""
    ct = ln.coloured
    lock_bytes = plan.render(home, db, info, ct, environment, dep_id)
    ln.job = rollout.Job(ct, lock_bytes, records.store_blob(home, lock_bytes), timeout)
    records.begin(db, dep_id, ln.target.name, lock_bytes, ln.job.lock_hex)
    leftover = bluegreen_end.clear(ct, timeout)
    if leftover:
        ln.result, ln.error = rollout.Result(touched=True), f"target {ln.target.name}: {leftover}"
        return False
    ln.result = rollout.apply(home, ln.job)
    if not ln.result.ok:
        return False
    ln.before = traffic.current_bytes(ln.switch)
    bluegreen_end.save_before(home, ln.target.name, ln.before)
    ln.switched, ln.switched_at = True, format_time(now())
    ln.switch_facts = traffic.put(ln.switch, traffic.upstream_text(
        ln.switch, ln.colour, f"{info.ref} {ln.colour} ({ct.project}) deployment {dep_id}"))
    testhooks.pause("bluegreen-after-switch")
    if not ln.switch_facts["ok"]:
        ln.error = f"target {ln.target.name}: switching traffic to {ln.colour} failed: {ln.switch_facts['error']}"
        return False
    if probe is not None:
        started = time.monotonic()
        try:
            reason = probe(ct)
        except Exception as exc:  # noqa: BLE001 — a probe that breaks is a failed probe: roll back, never strand
            reason = f"the probe raised {type(exc).__name__}: {exc}"
        ln.probe = {"ok": reason is None, "reason": reason, "ms": int((time.monotonic() - started) * 1000)}
        if reason is not None:
            ln.error = f"target {ln.target.name}: the health probe failed after the switch to {ln.colour}: {reason}"
            return False
    return True


def describe(db: sqlite_utils.Database, t: Target) -> dict[str, Any]:
    """``stella target show``: the target, what runs there, and (blue-green) the live colour
    and the set-up read from its env file (``problem`` when it is incomplete)."""
    cur = records.current(db, t.name)
    colour, project = live(db, t)
    doc: dict[str, Any] = {**t.to_dict(), "release": cur.release if cur else None,
                           "deployment": cur.deployment_id if cur else None,
                           "deployedAt": cur.finished_at if cur else None,
                           "strategy": cur.detail.get("strategy", "all-at-once") if cur else None,
                           "liveColour": colour, "liveProject": project, "blueGreen": None}
    try:
        doc["blueGreen"] = traffic.switch_for(t).to_dict()
    except BlueGreenNotSetUp as exc:
        if colour is not None:         # deployed blue-green once: an incomplete set-up now matters
            doc["blueGreen"] = {"problem": exc.message}
    return doc
