"""``whereis`` and ``drift``: what the appliance deployed where, and whether it still runs so."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from appliance import keys
from appliance.deploy import engine, records, rollout, targets
from appliance.deploy.errors import EngineDown, UnknownTarget
from appliance.home import Home
from kit.deploy.drift import Difference, StickerState, compare
from kit.deploy.lockfile import check_lock
from kit.deploy.sticker import read_sticker
from kit.errors import StellaError


def whereis(db: sqlite_utils.Database, name: str | None = None) -> list[dict[str, Any]]:
    """Per target: the release running there (its latest deployed rollout) and its digests."""
    out = []
    for t in targets.listing(db):
        cur = records.current(db, t.name)
        if cur is None or (name and cur.release.split("@")[0] != name and cur.release != name):
            continue
        services = check_lock(cur.lock_text.encode())["services"]
        out.append({"environment": t.environment, "target": t.name, "docker": t.docker,
                    "project": cur.detail.get("project") or t.project, "colour": cur.detail.get("colour"),
                    "release": cur.release, "deployment": cur.deployment_id, "promotion": cur.promotion_id,
                    "deployedAt": cur.finished_at, "lockSha256": cur.lock_sha256,
                    "services": {s: {"image": v["image"], "digest": v["labels"]["stella.digest"]}
                                 for s, v in sorted(services.items())}})
        if "hosts" in cur.detail:       # an agent target: the hosts (agents) it was deployed to
            out[-1]["hosts"] = [h.get("agent") for h in cur.detail["hosts"]]
    return sorted(out, key=lambda d: (d["environment"], d["target"]))


def select(db: sqlite_utils.Database, what: str | None) -> list[targets.Target]:
    """Targets named by ENV or TARGET (all when None).

    Raises:
        UnknownTarget: neither an environment with targets nor a target.
    """
    if what is None:
        return targets.listing(db)
    found = targets.listing(db, what)
    if found:
        return found
    try:
        return [targets.get(db, what)]
    except UnknownTarget:
        raise UnknownTarget(f"{what!r} is neither a target nor an environment with targets "
                            "(stella target list)") from None


@dataclass(frozen=True)
class TargetDrift:
    target: targets.Target
    release: str | None
    differences: list[Difference]

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target.name, "environment": self.target.environment, "release": self.release,
                "match": not self.differences, "differences": [d.to_dict() for d in self.differences]}


def _sticker(c: Any, home: Home, project: str, refs: list[str]) -> StickerState:
    data = engine.read_sticker(c, project, refs)
    if data is None:
        return StickerState(missing=True, problem=f"no {engine.sticker_volume(project)} volume or no sticker in it")
    try:
        return StickerState(payload=read_sticker(data, keys.public(home)))
    except StellaError as exc:
        return StickerState(problem=f"the sticker does not verify: {exc.message}")


def drift(home: Home, db: sqlite_utils.Database, t: targets.Target) -> TargetDrift:
    """Compare one target with its current rollout (raises EngineDown when it does not answer)."""
    cur = records.current(db, t.name)
    if t.kind == "swarm":
        from appliance.deploy import swarm
        return TargetDrift(t, *swarm.drift(home, t, cur, _sticker))
    if t.kind == "agents":
        from appliance.deploy import agenthost
        return TargetDrift(t, *agenthost.drift(home, db, t, cur))
    project = str(cur.detail.get("project") or t.project) if cur else t.project   # blue-green: the live colour's
    with engine.client(t.docker, f"target {t.name}") as c:
        seen = engine.observe(c, project)
        if cur is None:
            extra = [Difference(o.service or o.name, "extra", f"{o.name} runs but nothing was deployed here")
                     for o in seen]
            return TargetDrift(t, None, extra)
        lock = check_lock(cur.lock_text.encode())
        refs = [str(s["image"]) for s in lock["services"].values()]
        diffs = compare(lock, cur.lock_sha256, seen, _sticker(c, home, project, refs),
                        cur.detail.get("configHashes"))
    working = rollout.working_lock(home, t.name)
    if not working.is_file() or hashlib.sha256(working.read_bytes()).hexdigest() != cur.lock_sha256:
        diffs.append(Difference("-", "lock-changed", f"the working copy {working} is missing or was edited"))
    return TargetDrift(t, cur.release, diffs)


@dataclass(frozen=True)
class DriftReport:
    """Every selected target compared (``results``) and those whose engine did not answer (``down``)."""

    results: list[TargetDrift]
    down: list[dict[str, str]]

    @property
    def match(self) -> bool:
        return all(not r.differences for r in self.results) and not self.down

    def to_dict(self) -> dict[str, Any]:
        return {"match": self.match, "targets": [r.to_dict() for r in self.results], "unreachable": self.down}


def drift_report(home: Home, db: sqlite_utils.Database, what: str | None) -> DriftReport:
    """:func:`drift` on every target ENV or TARGET names (all when None); one engine down
    does not hide the others' report."""
    results, down = [], []
    for t in select(db, what):
        try:
            results.append(drift(home, db, t))
        except EngineDown as exc:
            down.append({"target": t.name, "environment": t.environment, "error": exc.message})
    return DriftReport(results, down)
