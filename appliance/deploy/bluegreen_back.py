"""A blue-green target put back on an earlier rollout after its deployment succeeded: the
workflow's ``rollback`` step (a deploy's own failures are bluegreen_end.fail's).

The same shape as ``rollout.restore`` (same arguments, facts with ``action``/``ok``), but
blue-green: the earlier lock file starts in the colour not live, is health-waited, the
proxy is switched to it, and after the drain the colour that was live is retired. Until
the switch nothing users see changes, so a restore that fails before it leaves the target
as it was (``ok`` false, the attempt removed).

The earlier rollout's colour is the one not live (successful blue-green deploys alternate),
so once the caller marks the rolled-back deployment, the target's latest deployed rollout
names the colour that now runs. An earlier all-at-once rollout comes back as the plain
``<project>`` with the upstream file the first blue-green deploy replaced.
"""

from __future__ import annotations

import base64
import dataclasses
import time
from typing import Any

import sqlite_utils

from appliance.deploy import bluegreen_end, engine, records, rollout, traffic
from appliance.deploy.bluegreen_end import STRATEGY, clear, working_copy
from appliance.deploy.errors import DeployError
from appliance.deploy.targets import Target
from appliance.home import Home
from kit.errors import StellaError


def is_blue_green(cur: records.Rollout | None) -> bool:
    """Whether *cur* (a target's latest deployed rollout) was deployed blue-green."""
    return cur is not None and cur.detail.get("strategy") == STRATEGY


def _where(t: Target, cur: records.Rollout, previous: records.Rollout | None,
           home: Home, sw: traffic.Switch) -> tuple[Target, bytes | None] | str:
    """Where *previous* runs again and the upstream file that sends traffic there (None: no
    file), or why it cannot."""
    live_colour = str(cur.detail.get("colour"))
    if previous is not None and is_blue_green(previous):
        colour = str(previous.detail.get("colour"))
        if colour != traffic.other(live_colour):
            return f"{previous.deployment_id} ran in {colour}, the colour live now: deploy that release instead"
        ct = dataclasses.replace(t, project=f"{t.project}-{colour}",
                                 env_file=str(traffic.colour_env_file(home, t, colour, sw)))
        return ct, traffic.upstream_text(sw, colour, f"{previous.release} {colour} ({ct.project}) rollback of "
                                                     f"deployment {cur.deployment_id}")
    before = cur.detail.get("upstreamBefore")
    if "upstreamBefore" not in cur.detail:
        return (f"the upstream file from before deployment {cur.deployment_id} was not recorded: "
                "deploy the earlier release instead")
    return t, (base64.b64decode(before) if isinstance(before, str) else None)


def restore(home: Home, db: sqlite_utils.Database, t: Target, previous: records.Rollout | None,
            timeout: int) -> dict[str, Any]:
    """Put blue-green target *t* back on *previous* (None: nothing before: the live colour
    is removed and the upstream file from before the first deploy put back). The caller
    holds the deploy lock; the deployment rolled back is still the target's latest deployed
    rollout (the caller marks it afterwards)."""
    started = time.monotonic()
    facts: dict[str, Any] = {"target": t.name, "strategy": STRATEGY}
    try:
        facts.update(_restore(home, t, previous, timeout, records.current(db, t.name)))
    except (DeployError, StellaError) as exc:
        facts.update(action="failed", ok=False, error=exc.message)
    facts["ms"] = int((time.monotonic() - started) * 1000)
    return facts


def _restore(home: Home, t: Target, previous: records.Rollout | None, timeout: int,
             cur: records.Rollout | None) -> dict[str, Any]:
    if cur is None or not is_blue_green(cur):
        return {"action": "failed", "ok": False, "error": f"target {t.name} does not run a blue-green rollout"}
    sw = traffic.switch_for(t)
    live = dataclasses.replace(t, project=str(cur.detail.get("project")), env_file=None)
    where = _where(t, cur, previous, home, sw)
    if isinstance(where, str):
        return {"action": "failed", "ok": False, "error": f"target {t.name}: {where}"}
    ct, upstream = where
    if previous is None:
        switch = traffic.put(sw, upstream)
        bluegreen_end.SLEEP(sw.drain_seconds)
        left = clear(live, timeout)
        working_copy(home, t.name, None)
        return {"action": "removed", "ok": switch["ok"] and left is None, "switch": switch, "error": left or
                switch["error"], "note": "first deploy to this target: nothing to go back to; the live colour "
                                         "was removed and the upstream file from before it put back"}
    job = rollout.Job(ct, previous.lock_text.encode("utf-8"), previous.lock_sha256, timeout)
    res = rollout.apply(home, job)
    out: dict[str, Any] = {"action": "reapplied", "release": previous.release, "deployment": previous.deployment_id,
                           "lockSha256": previous.lock_sha256, "project": ct.project,
                           "colour": previous.detail.get("colour"), "services": res.services}
    if not res.ok:
        clear(ct, timeout)
        working_copy(home, t.name, cur.lock_text.encode("utf-8"))
        return {**out, "ok": False, "error": f"{res.error}; {live.project} stayed live"}
    before = traffic.current_bytes(sw)
    switch = traffic.put(sw, upstream)
    if not switch["ok"]:
        traffic.put(sw, before)
        clear(ct, timeout)
        working_copy(home, t.name, cur.lock_text.encode("utf-8"))
        return {**out, "ok": False, "switch": switch, "error": f"{switch['error']}; {live.project} stayed live"}
    bluegreen_end.SLEEP(sw.drain_seconds)
    left = clear(live, timeout)
    if previous.sticker:
        with engine.client(t.docker, f"target {t.name}") as c:
            engine.write_sticker(c, ct.project, previous.sticker.encode(), job.refs)
    return {**out, "ok": left is None, "switch": switch, "retired": {"project": live.project, "ok": left is None,
                                                                     "error": left}, "error": left}
