"""How a blue-green deployment ends (bluegreen.py): the old colours retired, stickers and a
``deployment`` packet; or traffic switched back, the new colours removed and a ``rollback``
packet. Also the end of one whose process died (``resume``, called by recovery.py).

Crash safety: before a target's switch, the upstream file's previous bytes are kept in
``deploy/targets/<name>/upstream.before.json``; before the first old colour is retired, the
deployment is marked committed (``deploy/bluegreen/<deployment>.committed``). A deployment
found ``deploying`` with no owner is rolled back (switch back, new colours removed) unless
it was committed: then its retirement is finished and it ends deployed.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from appliance import testhooks
from appliance.deploy import engine, plan, records, rollout, sealing, targets, traffic
from appliance.deploy.compose import Compose
from appliance.deploy.errors import DeployError
from appliance.deploy.outcome import Report
from appliance.deploy.targets import Target
from appliance.home import Home
from appliance.promotions import service
from kit.deploy.lockfile import check_lock
from kit.errors import StellaError

STRATEGY = "blue-green"
SLEEP: Callable[[float], None] = time.sleep       # the drain wait (tests may replace it)


@dataclass
class Lane:
    """One target's blue-green deploy: what was live, the colour started, how far it got."""

    target: Target                     # as registered
    switch: traffic.Switch
    live_colour: str | None            # None: nothing live, or a plain (all-at-once) project
    live_project: str | None           # the Compose project serving now (None: first deploy)
    colour: str                        # the colour this deploy starts
    coloured: Target                   # the target as the new colour: its project and env file
    job: rollout.Job | None = None
    result: rollout.Result | None = None
    before: bytes | None = None        # the upstream file before the switch (None: there was none)
    switched: bool = False             # the upstream file may have changed: switching back is due
    switched_at: str | None = None
    switch_facts: dict[str, Any] | None = None
    probe: dict[str, Any] | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.result is not None and self.result.ok and self.error is None

    def facts(self) -> dict[str, Any]:
        """The additive per-target fields (evidence, rollout detail, report)."""
        return {"strategy": STRATEGY, "colour": self.colour, "project": self.coloured.project,
                "port": self.switch.ports[self.colour], "previousColour": self.live_colour,
                "previousProject": self.live_project, "switchedAt": self.switched_at,
                "switch": self.switch_facts, "probe": self.probe, "upstreamFile": str(self.switch.upstream_file)}



def _before_path(home: Home, name: str) -> Path:
    return home.root / "deploy" / "targets" / name / "upstream.before.json"


def _committed_path(home: Home, deployment: str) -> Path:
    return home.root / "deploy" / "bluegreen" / f"{deployment}.committed"


def save_before(home: Home, name: str, data: bytes | None) -> None:
    """Keep the upstream file's bytes from before the switch (for a switch back after a crash)."""
    path = _before_path(home, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"before": _b64(data)}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc))
    tmp.replace(path)


def _b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


def _saved_before(home: Home, name: str) -> tuple[bool, bytes | None]:
    """(kept?, bytes): kept is False when no switch was started on the target."""
    try:
        doc = json.loads(_before_path(home, name).read_text())
    except (OSError, ValueError):
        return False, None
    return True, None if doc.get("before") is None else base64.b64decode(doc["before"])


def clear(t: Target, timeout: int) -> str | None:
    """Stop and remove what runs in *t*'s project, its sticker volume too (a colour left by an
    interrupted deploy, a new colour after a failure, an old colour retired); None when
    nothing is left, else what is."""
    try:
        with engine.client(t.docker, f"target {t.name}") as c:
            run = None
            if engine.observe(c, t.project):
                run = Compose(t.docker, t.project, None, timeout=timeout + 120).down()
            engine.remove_sticker(c, t.project)
            left = engine.observe(c, t.project)
    except (DeployError, StellaError) as exc:
        return exc.message
    if left:
        why = run.last_error() if run is not None and not run.ok else "containers left"
        return f"project {t.project} could not be removed ({why}: {', '.join(o.name for o in left)})"
    return None


def working_copy(home: Home, name: str, lock: bytes | None) -> None:
    """The target's working lock file put back to the live colour's (or removed)."""
    path = rollout.working_lock(home, name)
    if lock is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(lock)
    tmp.replace(path)


def _retire(ln: Lane, timeout: int) -> dict[str, Any]:
    if ln.live_project is None:
        return {"action": "none", "ok": True, "note": "first deploy to this target: nothing to retire"}
    old = dataclasses.replace(ln.target, project=ln.live_project, env_file=None)
    started = time.monotonic()
    left = clear(old, timeout)
    return {"action": "removed", "project": ln.live_project, "colour": ln.live_colour, "ok": left is None,
            "error": left, "ms": int((time.monotonic() - started) * 1000)}


def _target_facts(ln: Lane, sticker: bytes | None, back: dict[str, Any] | None) -> dict[str, Any]:
    """outcome's per-target facts (the same keys) and the blue-green fields."""
    job, res = ln.job, ln.result or rollout.Result(error="not reached")
    assert job is not None
    return {"target": ln.target.name, "docker": ln.target.docker, "project": ln.coloured.project,
            "lockFile": job.lock.decode("utf-8"), "lockSha256": job.lock_hex, "sticker": sealing.sticker_doc(sticker),
            "ok": ln.ok, "error": ln.error or res.error, "services": res.services, "timingsMs": res.timings_ms,
            "rollback": back, **{k: v for k, v in ln.facts().items() if k != "project"}}


def succeed(home: Home, db: sqlite_utils.Database, info: plan.ReleaseInfo, report: Report, lanes: list[Lane],
            actor: str, note: str | None = None) -> Report:
    """Every target switched: drain, retire the old colours, stickers on the new, seal."""
    _committed_path(home, report.deployment).parent.mkdir(parents=True, exist_ok=True)
    _committed_path(home, report.deployment).touch()
    testhooks.pause("bluegreen-committed")
    dep = sealing.event(db, report.deployment, [])["deployment"]
    drain = max((ln.switch.drain_seconds for ln in lanes if ln.live_project), default=0.0)
    if drain > 0:
        SLEEP(drain)                   # requests the old colour is still serving finish first
    facts, problems = [], []
    for ln in lanes:
        assert ln.job is not None and ln.result is not None
        retired = _retire(ln, ln.job.timeout)
        if not retired["ok"]:
            problems.append(f"target {ln.target.name}: the old colour was not fully retired: {retired['error']}")
        data = sealing.sticker(home, info, dep, ln.coloured, ln.job.lock_hex)
        with engine.client(ln.target.docker, f"target {ln.target.name}") as c:
            engine.write_sticker(c, ln.coloured.project, data, ln.job.refs)
        records.finish(db, report.deployment, ln.target.name, "deployed",
                       {**ln.result.to_dict(), **ln.facts(), "retired": retired,
                        "upstreamBefore": _b64(ln.before)}, sticker=data)   # for a later rollback step
        facts.append({**_target_facts(ln, data, None), "retired": retired})
        _before_path(home, ln.target.name).unlink(missing_ok=True)
    live = {ln.target.name: {"colour": ln.colour, "project": ln.coloured.project} for ln in lanes}
    service.finish_deployment(db, report.deployment, True, actor, {"targets": list(live), "strategy": STRATEGY,
                                                                    "live": live}, health="healthy")
    doc = sealing.event(db, report.deployment, facts, note)
    report.ok, report.targets, report.packet_type = True, facts, "deployment"
    report.packet = sealing.seal(home, db, report.promotion, report.deployment, "deployment", doc)
    _committed_path(home, report.deployment).unlink(missing_ok=True)
    now_live = ", ".join(f"{name} {v['colour']}" for name, v in live.items())
    report.message = (f"{report.release} deployed blue-green to {report.environment} ({len(lanes)} target(s)), "
                      f"all healthy; live now: {now_live}" + ("; " + "; ".join(problems) if problems else ""))
    return report


def _describe(colour: str | None, project: str | None) -> str:
    if project is None:
        return "nothing (first deploy)"
    return f"{colour} ({project})" if colour else f"project {project}"


def _undo(home: Home, db: sqlite_utils.Database, deployment: str, ln: Lane,
          switch_back: dict[str, Any] | None) -> dict[str, Any]:
    """Remove the new colour (when started), after the switch back (*switch_back*: its facts)."""
    started = time.monotonic()
    was = _describe(ln.live_colour, ln.live_project)
    back: dict[str, Any] = {"target": ln.target.name, "colour": ln.colour, "project": ln.coloured.project,
                            "live": ln.live_colour, "liveProject": ln.live_project, "switchedBack": False}
    touched = ln.result is not None and ln.result.touched
    if switch_back is not None:
        back["switchBack"] = switch_back
        back["switchedBack"] = bool(switch_back["ok"])
    left = clear(ln.coloured, ln.job.timeout if ln.job else 60) if touched else None
    previous = records.current(db, ln.target.name, exclude=deployment)
    working_copy(home, ln.target.name, previous.lock_text.encode() if previous else None)
    _before_path(home, ln.target.name).unlink(missing_ok=True)
    if not touched:
        back.update(action="none", note="nothing was changed on this target")
    elif ln.switched:
        back.update(action="switched-back", note=f"traffic was switched back to {was} and the new colour "
                                                 f"{ln.colour} ({ln.coloured.project}) removed")
    else:
        back.update(action="removed", note=f"the new colour {ln.colour} ({ln.coloured.project}) was removed before "
                                           f"any traffic reached it; {was} stayed live: nothing changed for users")
    errors = [e for e in (left, (back.get("switchBack") or {}).get("error")) if e]
    back.update(ok=not errors, ms=int((time.monotonic() - started) * 1000))
    if errors:
        back["error"] = "; ".join(errors)
    return back


def fail(home: Home, db: sqlite_utils.Database, report: Report, lanes: list[Lane], actor: str,
         note: str | None = None) -> Report:
    """Whole-environment rollback: every target switched goes back (the last switched first),
    then, after the drain, every new colour is removed; the deployment ends failed."""
    begun = [ln for ln in lanes if ln.job is not None]
    switched = [ln for ln in reversed(begun) if ln.switched]
    switch_backs = {ln.target.name: traffic.put(ln.switch, ln.before) for ln in switched}
    drain = max((ln.switch.drain_seconds for ln in switched), default=0.0)
    if drain > 0:
        SLEEP(drain)                   # requests the new colours are still serving finish first
    backs = {ln.target.name: _undo(home, db, report.deployment, ln, switch_backs.get(ln.target.name))
             for ln in reversed(begun)}
    facts, errors = [], []
    for ln in begun:
        res = ln.result or rollout.Result(error="not reached")
        error = ln.error or res.error
        if error:
            errors.append(error)
        back = backs[ln.target.name]
        records.finish(db, report.deployment, ln.target.name, "failed" if error else "rolled-back",
                       {**res.to_dict(), **ln.facts(), "error": error, "rollback": back})
        facts.append(_target_facts(ln, None, back))
    health = "unhealthy" if any(s.get("problems") for f in facts for s in f["services"]) else "error"
    service.finish_deployment(db, report.deployment, False, actor, {"errors": errors, "strategy": STRATEGY,
                                                                     "rollback": list(backs.values())}, health=health)
    doc = sealing.event(db, report.deployment, facts, note)
    report.ok, report.targets, report.packet_type = False, facts, "rollback"
    report.packet = sealing.seal(home, db, report.promotion, report.deployment, "rollback", doc)
    still = ", ".join(f"{ln.target.name} {_describe(ln.live_colour, ln.live_project)}" for ln in begun)
    report.message = (f"{report.release} failed in {report.environment}: " + ("; ".join(errors) or "interrupted")
                      + f"; blue-green rolled back, live: {still}")
    return report


def is_blue_green(db: sqlite_utils.Database, deployment: str) -> bool:
    row = db.execute("SELECT detail FROM deployments WHERE id = ?", [deployment]).fetchone()
    return bool(row) and json.loads(row[0] or "{}").get("strategy") == STRATEGY


def resume(home: Home, db: sqlite_utils.Database, deployment: str, actor: str, note: str) -> Report:
    """Finish a blue-green deployment whose process died: forward when it was committed
    (retiring had begun), else rolled back."""
    promotion, env, release = db.execute("SELECT promotion_id, environment, release FROM deployments "
                                         "WHERE id = ?", [deployment]).fetchone()
    report = Report(deployment, promotion, release, env)
    timeout = targets.settings(db, env).health_timeout
    by_name = {t.name: t for t in targets.listing(db, env)}
    lanes = []
    for r in records.of_deployment(db, deployment):
        t = by_name.get(r.target) or Target(r.target, env, "", "", None)
        project = str(check_lock(r.lock_text.encode())["name"])
        colour = project.rsplit("-", 1)[-1]
        previous = records.current(db, t.name, exclude=deployment)
        live_colour = previous.detail.get("colour") if previous and previous.detail.get("strategy") == STRATEGY \
            else None
        live_project = (str(previous.detail.get("project")) if live_colour else t.project) if previous else None
        try:
            sw = traffic.switch_for(t)
        except StellaError:            # the set-up changed since: the ports recorded are enough to go on
            sw = traffic.Switch({"blue": 0, "green": 0}, Path("/nonexistent"), ("false",))
        kept, before = _saved_before(home, t.name)
        ln = Lane(t, sw, live_colour, live_project, colour, dataclasses.replace(t, project=project),
                  rollout.Job(dataclasses.replace(t, project=project), r.lock_text.encode(), r.lock_sha256, timeout),
                  rollout.Result(ok=True, touched=True), before, kept)
        lanes.append(ln)
    if _committed_path(home, deployment).exists():   # old colours may be gone already: only forward is safe
        return succeed(home, db, plan.load_release(home, db, release), report, lanes, actor, note)
    for ln in lanes:
        ln.error = "interrupted: the process running this deployment died before it finished"
    return fail(home, db, report, lanes, actor, note)
