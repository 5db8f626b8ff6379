"""The normalized advisory record: what kits carry and the index stores.

A faithful, typed subset of OSV: identity (id, aliases, dates, withdrawn), a summary,
severity (CVSS vectors with the base score computed here, plus the source's own label)
and the affected packages with their ranges and explicit version lists. Each affected
entry also carries its purl type and normalized name, the (ecosystem, name) key the
index is built on. ``to_dict`` gives the canonical JSON form described by
docs/schemas/advisory-record.schema.json.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")
RANGE_TYPES = ("SEMVER", "ECOSYSTEM", "GIT")


@dataclass(frozen=True)
class Event:
    kind: str  # one of EVENT_KINDS
    version: str

    def to_dict(self) -> dict[str, str]:
        return {self.kind: self.version}


@dataclass(frozen=True)
class Range:
    type: str  # one of RANGE_TYPES
    events: tuple[Event, ...]
    repo: str = ""

    def describe(self) -> str:
        """A short human form, e.g. ``ECOSYSTEM introduced 0, fixed 2.7.0``."""
        return f"{self.type} " + ", ".join(f"{e.kind} {e.version}" for e in self.events)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "events": [e.to_dict() for e in self.events]}
        if self.repo:
            out["repo"] = self.repo
        return out


@dataclass(frozen=True)
class Affected:
    ecosystem: str  # OSV ecosystem as written, e.g. "Debian:12"
    purl_type: str  # selects version rules and the index key, e.g. "deb"
    name: str
    normalized_name: str
    purl: str = ""
    ranges: tuple[Range, ...] = ()
    versions: tuple[str, ...] = ()

    @property
    def release(self) -> str:
        """The distribution release after the colon of the ecosystem ("12"), or ""."""
        return self.ecosystem.partition(":")[2].strip()

    def fixed_versions(self) -> tuple[str, ...]:
        return tuple(sorted({e.version for r in self.ranges for e in r.events
                             if e.kind == "fixed" and r.type != "GIT"}))

    def to_dict(self) -> dict[str, Any]:
        return {"ecosystem": self.ecosystem, "purl_type": self.purl_type, "name": self.name,
                "normalized_name": self.normalized_name, "purl": self.purl,
                "ranges": [r.to_dict() for r in self.ranges], "versions": list(self.versions)}


@dataclass(frozen=True)
class Severity:
    type: str  # CVSS_V3, CVSS_V4, CVSS_V2 or another OSV severity type
    vector: str
    score: str = ""  # base score computed from the vector, "9.8"; "" when not computable

    def to_dict(self) -> dict[str, str]:
        return {"type": self.type, "vector": self.vector, "score": self.score}


@dataclass(frozen=True)
class Note:
    """A remediation or threat a CSAF advisory states (kept as written; never used to match)."""

    kind: str                     # "remediation" or "threat"
    category: str                 # vendor_fix, workaround, mitigation, none_available, no_fix_planned;
    #                               impact, exploit_status, target_set
    details: str
    products: tuple[str, ...]     # purls (else CPEs, else product names) it applies to; () = all
    url: str = ""
    date: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"category": self.category, "details": self.details, "products": list(self.products),
                "url": self.url, "date": self.date}


@dataclass(frozen=True)
class Advisory:
    id: str
    modified: str
    source: str
    aliases: tuple[str, ...] = ()
    published: str = ""
    withdrawn: str = ""
    summary: str = ""
    severity: tuple[Severity, ...] = ()
    label: str = ""  # the source's own severity word, lower case ("high"), or ""
    affected: tuple[Affected, ...] = field(default=())
    # CSAF only (empty for OSV, and then absent from to_dict, so OSV records stay as they were)
    remediations: tuple[Note, ...] = ()
    threats: tuple[Note, ...] = ()
    cpes: tuple[str, ...] = ()   # CPEs of the affected products, sorted

    @property
    def ids(self) -> frozenset[str]:
        return frozenset((self.id, *self.aliases))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "aliases": list(self.aliases), "modified": self.modified,
                "published": self.published, "withdrawn": self.withdrawn,
                "summary": self.summary, "source": self.source, "label": self.label,
                "severity": [s.to_dict() for s in self.severity],
                "affected": [a.to_dict() for a in self.affected], **self._csaf_dict()}

    def _csaf_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.remediations:
            out["remediations"] = [n.to_dict() for n in self.remediations]
        if self.threats:
            out["threats"] = [n.to_dict() for n in self.threats]
        if self.cpes:
            out["cpes"] = list(self.cpes)
        return out


def _notes(kind: str, items: Any) -> tuple[Note, ...]:
    return tuple(Note(kind, n["category"], n["details"], tuple(n["products"]), n["url"], n["date"])
                 for n in items or ())


def advisory_from_dict(data: dict[str, Any]) -> Advisory:
    """Rebuild an ``Advisory`` from ``to_dict`` output (trusted, already validated data)."""
    affected = tuple(
        Affected(a["ecosystem"], a["purl_type"], a["name"], a["normalized_name"], a["purl"],
                 tuple(Range(r["type"], tuple(Event(*next(iter(e.items()))) for e in r["events"]),
                             r.get("repo", "")) for r in a["ranges"]),
                 tuple(a["versions"]))
        for a in data["affected"])
    return Advisory(
        id=data["id"], modified=data["modified"], source=data["source"],
        aliases=tuple(data["aliases"]), published=data["published"],
        withdrawn=data["withdrawn"], summary=data["summary"], label=data["label"],
        severity=tuple(Severity(s["type"], s["vector"], s["score"]) for s in data["severity"]),
        affected=affected, remediations=_notes("remediation", data.get("remediations")),
        threats=_notes("threat", data.get("threats")), cpes=tuple(data.get("cpes") or ()))
