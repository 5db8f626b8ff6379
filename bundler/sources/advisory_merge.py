"""Merging one advisory id that arrives from several sources (or twice from one).

The precedence, documented in docs/advisories.md: candidates are ranked by higher
``priority``, then newer ``modified``, then source name, then file name, then the
record's canonical bytes (so the order is total and never depends on input order).

- The top-ranked candidate (the *winner*) gives the record's identity and the facts
  matching depends on: ``modified``, ``withdrawn``, ``affected`` and ``source``. Taking
  these from one coherent record avoids mixing one source's ranges with another's dates.
- ``published``, ``summary``, ``severity`` and ``label`` come from the highest-ranked
  candidate that has a non-empty value, so a terse top source still gets a score.
- ``aliases`` is the union of every candidate's aliases (minus the id): more names only
  help VEX and alias matching.

Every field's origin is recorded in a ``MergeDecision`` that ``sources.json`` carries.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

from kit import canonical
from kit.findings.advisory import Advisory

WINNER_FIELDS = ("modified", "withdrawn", "affected")
FILLED_FIELDS = ("published", "summary", "severity", "label")


@dataclass(frozen=True)
class Candidate:
    """One record of an id, with where it came from."""

    advisory: Advisory
    source: str
    priority: int
    file: str
    modified: dt.datetime   # the parsed ``modified``, for ranking

    def rank(self) -> tuple[Any, ...]:
        """Sort key: the best candidate sorts first."""
        return (-self.priority, -self.modified.timestamp(), self.source, self.file,
                canonical.dumps(self.advisory.to_dict()))

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "priority": self.priority, "file": self.file,
                "modified": self.advisory.modified}


@dataclass(frozen=True)
class MergeDecision:
    """How one id seen more than once became one record."""

    id: str
    candidates: tuple[Candidate, ...]      # ranked, best first
    fields: tuple[tuple[str, str], ...]    # (field, source it came from), sorted by field
    identical: bool                        # every candidate carried the same record

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "winner": self.candidates[0].source, "identical": self.identical,
                "candidates": [c.to_dict() for c in self.candidates], "fields": dict(self.fields)}


def _filled(ranked: list[Candidate], name: str) -> Candidate:
    """The best candidate with a non-empty value for *name* (the winner if none has one)."""
    return next((c for c in ranked if getattr(c.advisory, name)), ranked[0])


def merge(candidates: list[Candidate]) -> tuple[Advisory, MergeDecision | None]:
    """One record from every candidate of one id; a decision when there was more than one."""
    ranked = sorted(candidates, key=Candidate.rank)
    winner = ranked[0]
    if len(ranked) == 1:
        return winner.advisory, None
    origin = {name: winner.source for name in WINNER_FIELDS + ("id", "source")}
    changes: dict[str, Any] = {}
    for name in FILLED_FIELDS:
        best = _filled(ranked, name)
        changes[name] = getattr(best.advisory, name)
        origin[name] = best.source
    aliases = sorted({a for c in ranked for a in c.advisory.aliases} - {winner.advisory.id})
    changes["aliases"] = tuple(aliases)
    origin["aliases"] = ",".join(sorted({c.source for c in ranked if c.advisory.aliases})) or winner.source
    merged = dataclasses.replace(winner.advisory, **changes)
    identical = len({canonical.dumps(c.advisory.to_dict()) for c in ranked}) == 1
    return merged, MergeDecision(winner.advisory.id, tuple(ranked), tuple(sorted(origin.items())), identical)
