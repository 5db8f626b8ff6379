"""What one deployment does on one target (:class:`Job`), what came of it (:class:`Result`),
and the appliance's working copy of the target's lock file.

Below every kind of target (``rollout`` for Compose, ``swarm``, ``agenthost``), which all
take a Job and give a Result; ``rollout`` re-exports them, so ``rollout.Job`` and
``rollout.Result`` stay what callers use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from appliance.deploy.targets import Target
from appliance.home import Home
from kit.deploy.drift import Difference, Observed
from kit.deploy.lockfile import LOCK_NAME, check_lock


@dataclass(frozen=True)
class Job:
    """What one deployment does on one target."""

    target: Target
    lock: bytes
    lock_hex: str
    timeout: int

    @cached_property
    def doc(self) -> dict[str, Any]:
        """The lock file parsed, its self-digest checked (raises LockError)."""
        return check_lock(self.lock)

    @cached_property
    def refs(self) -> tuple[str, ...]:
        return tuple(sorted({str(s["image"]) for s in self.doc["services"].values()}))


@dataclass
class Result:
    ok: bool = False
    error: str | None = None
    services: list[dict[str, Any]] = field(default_factory=list)
    timings_ms: dict[str, int] = field(default_factory=dict)
    config_hashes: dict[str, str] = field(default_factory=dict)
    pulled: list[str] = field(default_factory=list)
    touched: bool = False              # compose ran: the target may have changed
    hosts: list[dict[str, Any]] | None = None     # an agent target: each host (agent) and what it did there

    def to_dict(self) -> dict[str, Any]:
        doc = {"ok": self.ok, "error": self.error, "services": self.services, "timingsMs": self.timings_ms,
               "configHashes": self.config_hashes, "pulled": self.pulled}
        if self.hosts is not None:          # additive: an engine target's record is unchanged
            doc["hosts"] = self.hosts
        return doc


def working_lock(home: Home, target: str) -> Path:
    """The appliance's working copy of the target's lock file (Compose's project directory)."""
    return home.root / "deploy" / "targets" / target / LOCK_NAME


def write_working(home: Home, target: str, lock: bytes) -> Path:
    path = working_lock(home, target)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(lock)
    tmp.replace(path)
    return path


def service_results(doc: dict[str, Any], seen: list[Observed], diffs: list[Difference]) -> list[dict[str, Any]]:
    out = []
    for name in sorted(doc["services"]):
        mine = [c for c in seen if c.service == name]
        problems = [f"{d.kind}: {d.detail}" for d in diffs if d.service == name]
        out.append({"service": name, "containers": [c.name for c in mine],
                    "state": mine[0].state if mine else "missing", "health": mine[0].health if mine else None,
                    "digests": list(mine[0].digests) if mine else [], "ok": not problems, "problems": problems})
    out += [{"service": d.service, "ok": False, "problems": [f"{d.kind}: {d.detail}"]} for d in diffs
            if d.kind == "extra"]
    return out
