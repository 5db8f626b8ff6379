"""``stella plan KIT``: verify a kit exactly as ``stella import`` would, and say what it would change.

The import itself runs — the same pipeline, every check in the same order — on a scratch
copy of the home (:mod:`appliance.plan.scratch`), with quarantine off; the real database
and content store are only read. Then: the diff between what the appliance holds before
and after (every path of every kit, the newest import winning; the policy pack in use;
``kit.diff``), and for every pending promotion and current deployment the findings
that appear or disappear and the gate verdicts that change.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance import trust
from appliance.home import Home
from appliance.importing.pipeline import ImportOptions, ImportOutcome, import_kit
from appliance.plan import impact
from appliance.plan.scratch import scratch
from appliance.plan.state import holdings
from appliance.store.db import open_db
from kit.diff import KitDiff, diff
from kit.format import KitLimits, inspect_kit
from kit.timeutil import format_time, now


@dataclass(frozen=True)
class Plan:
    kit: Path
    outcome: ImportOutcome
    diff: KitDiff
    impacts: tuple[impact.Impact, ...]
    trust_root: dict[str, Any]
    at: dt.datetime

    @property
    def verdicts_change(self) -> bool:
        return any(i.changes_verdict for i in self.impacts)

    def to_dict(self) -> dict[str, Any]:
        status = "would-import" if self.outcome.status == "imported" else self.outcome.status
        return {"kit": str(self.kit), "status": status, "kitId": self.outcome.kit_id, "kind": self.outcome.kind,
                "evaluatedAt": format_time(self.at), "checks": self.outcome.checks, "trustRoot": self.trust_root,
                "diff": self.diff.to_dict(), "verdictsChange": self.verdicts_change,
                "promotions": [i.to_dict() for i in self.impacts],
                "workflows": self.outcome.workflows}         # templates the kit would assign or skip


def plan_kit(home: Home, kit: Path, *, at: dt.datetime | None = None, wait: float = 0.0,
             limits: KitLimits = KitLimits(), actor: str | None = None) -> Plan:
    """Import *kit* into a scratch copy of *home* and compare before with after.

    Raises:
        the import's own errors (verification, freshness, delta base, lock), nothing changed.
    """
    home.require()
    moment = at or now()
    with scratch(home, wait) as box:
        channel = _channel(Path(kit), limits)
        db = open_db(box.db_path)
        try:
            watched = impact.watched(db)
            before = impact.evaluate(box, db, watched, moment)
            old = holdings(box, db, channel, "appliance")
        finally:
            db.close()
        outcome = import_kit(box, Path(kit), ImportOptions(at=moment, limits=limits, actor=actor, quarantine=False))
        db = open_db(box.db_path)
        try:
            root = trust.current(db)
            new = holdings(box, db, outcome.channel, f"appliance + {Path(kit).name}")
            new.file_size = Path(kit).stat().st_size
            try:
                changes = diff(old, new)
            finally:
                old.close()
                new.close()
            after = impact.evaluate(box, db, watched, moment) if outcome.status == "imported" else before
        finally:
            db.close()
    impacts = tuple(impact.compare(p, before[p.id], after[p.id]) for p in watched)
    root_doc = {"version": root.version, "digest": root.digest, "expires": format_time(root.expires)}
    return Plan(Path(kit), outcome, changes, impacts, root_doc, moment)


def _channel(kit: Path, limits: KitLimits) -> str:
    """The channel the kit's manifest names (unverified: it only picks what to compare; the import verifies)."""
    manifest = inspect_kit(kit, limits).manifest
    return manifest.channel if manifest is not None else ""
