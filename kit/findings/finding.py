"""Findings: matches grouped so one vulnerability in one component is one finding.

Advisories that share an id or alias (PYSEC-… aliasing CVE-X, and GHSA-… aliasing the
same CVE-X) are unified per component by connected components over their id sets. A
finding carries all advisory ids that matched, the union of aliases, every range that
matched, the fixed versions, every CVSS vector with its computed base score, the
sources' own labels, the locations (image/layer), and — once VEX is applied — the
effective status with the statements that produced it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cmp_to_key
from typing import Any

from kit.findings.advisory import Severity
from kit.findings.component import Location
from kit.findings.cvss import label_for
from kit.findings.errors import FindingsError
from kit.findings.match import Match
from kit.findings.versions import scheme_for
from kit.findings.vex_model import Decision

_RANK = {"critical": 4, "high": 3, "medium": 2, "low": 1, "none": 0, "unknown": -1}


def primary_id(ids: Iterable[str]) -> str:
    """The id a finding is shown under: the first CVE id, else the smallest id."""
    ordered = sorted(ids)
    cves = [i for i in ordered if i.startswith("CVE-")]
    return cves[0] if cves else ordered[0]


def severity_rank(rating: str) -> int:
    return _RANK.get(rating, -1)


@dataclass(frozen=True)
class Finding:
    id: str
    advisories: tuple[str, ...]  # ids of the advisories that matched
    aliases: tuple[str, ...]  # every other known id of the vulnerability
    purl: str
    purl_type: str
    name: str
    version: str
    matched: tuple[str, ...]  # "ADVISORY-ID: range" entries
    fixed: tuple[str, ...]
    severity: tuple[Severity, ...]
    labels: tuple[str, ...]
    score: str  # highest computed base score, "" when none
    rating: str  # critical/high/medium/low/none/unknown: from score, else the labels
    summary: str
    locations: tuple[Location, ...]
    vex: Decision = field(default_factory=Decision.none)

    @property
    def ids(self) -> frozenset[str]:
        return frozenset((self.id, *self.advisories, *self.aliases))

    @property
    def suppressed(self) -> bool:
        return self.vex.suppressed

    def with_vex(self, decision: Decision) -> Finding:
        return replace(self, vex=decision)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "advisories": list(self.advisories), "aliases": list(self.aliases),
            "component": {"purl": self.purl, "type": self.purl_type, "name": self.name,
                          "version": self.version},
            "matched": list(self.matched), "fixed": list(self.fixed),
            "severity": {"score": self.score, "rating": self.rating, "labels": list(self.labels),
                         "cvss": [s.to_dict() for s in self.severity]},
            "summary": self.summary, "locations": [loc.to_dict() for loc in self.locations],
            "vex": self.vex.to_dict(),
        }


def _groups(matches: list[Match]) -> list[list[Match]]:
    """Matches of one component, split into connected components by shared ids."""
    parent = list(range(len(matches)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, m in enumerate(matches):
        for ident in m.advisory.ids:
            if ident in owner:
                parent[find(i)] = find(owner[ident])
            else:
                owner[ident] = i
    groups: dict[int, list[Match]] = {}
    for i, m in enumerate(matches):
        groups.setdefault(find(i), []).append(m)
    return list(groups.values())


def sort_versions(purl_type: str, versions: Iterable[str]) -> tuple[str, ...]:
    """*versions* in the ecosystem's order (text order when any does not parse)."""
    ordered = sorted(set(versions))
    try:
        parse = scheme_for(purl_type).parse

        def compare(a: str, b: str) -> int:
            return -1 if parse(a) < parse(b) else (1 if parse(b) < parse(a) else 0)

        return tuple(sorted(ordered, key=cmp_to_key(compare)))
    except FindingsError:
        return tuple(ordered)


def _rating(score: str, labels: tuple[str, ...]) -> str:
    if score:
        return label_for(score)
    ranked = sorted(labels, key=severity_rank, reverse=True)
    return ranked[0] if ranked else "unknown"


def _finding(group: list[Match]) -> Finding:
    comp = group[0].component
    ids = {i for m in group for i in m.advisory.ids}
    first = primary_id(ids)
    advisories = tuple(sorted({m.advisory.id for m in group}))
    severity = tuple(sorted({s for m in group for s in m.advisory.severity},
                            key=lambda s: (s.type, s.vector)))
    scores = [float(s.score) for s in severity if s.score]
    score = f"{max(scores):.1f}" if scores else ""
    labels = tuple(sorted({m.advisory.label for m in group if m.advisory.label}))
    summaries = [m.advisory.summary for m in sorted(group, key=lambda m: m.advisory.id)
                 if m.advisory.summary]
    return Finding(
        id=first, advisories=advisories, aliases=tuple(sorted(ids - {first} - set(advisories))),
        purl=comp.purl, purl_type=comp.purl_type, name=comp.name, version=comp.version,
        matched=tuple(sorted({f"{m.advisory.id}: {d}" for m in group for d in m.matched})),
        fixed=sort_versions(comp.purl_type, {v for m in group for v in m.affected.fixed_versions()}),
        severity=severity, labels=labels, score=score, rating=_rating(score, labels),
        summary=summaries[0] if summaries else "", locations=comp.locations)


def build_findings(matches: Iterable[Match]) -> tuple[Finding, ...]:
    """Findings from matches, sorted by (component purl, version, finding id)."""
    by_component: dict[tuple[str, str], list[Match]] = {}
    for m in matches:
        by_component.setdefault((m.component.purl, m.component.version), []).append(m)
    findings = [_finding(g) for key in sorted(by_component) for g in _groups(by_component[key])]
    return tuple(sorted(findings, key=lambda f: (f.purl, f.version, f.id)))
