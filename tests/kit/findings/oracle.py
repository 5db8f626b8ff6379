"""The oracle over real advisories: explicit ``versions`` lists against the matcher.

For every advisory that lists versions, for every release of the package named in any
advisory's lists: the matcher must say "affected by this advisory" exactly when the
version is listed. A record is *consistent* when its ranges alone (without the list)
already agree with its list on that universe; on consistent records agreement must be
100 %. Inconsistent ones are reported with the versions where ranges and list disagree.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from kit.findings.advisory import Advisory
from kit.findings.component import component_from_purl
from kit.findings.errors import InvalidVersion
from kit.findings.index import MemoryIndex
from kit.findings.match import Matcher
from kit.findings.ranges import evaluate
from kit.findings.versions import scheme_for


@dataclass
class OracleResult:
    pairs: int = 0
    agree: int = 0
    consistent_pairs: int = 0
    consistent_agree: int = 0
    records: int = 0
    withdrawn: int = 0
    inconsistent: dict[str, str] = field(default_factory=dict)
    disagreements: list[str] = field(default_factory=list)

    def figure(self) -> str:
        pct = 100.0 * self.agree / self.pairs if self.pairs else 0.0
        cpct = 100.0 * self.consistent_agree / self.consistent_pairs if self.consistent_pairs else 0.0
        return (f"oracle: {self.records} advisories with versions lists, {self.pairs} "
                f"(advisory, version) pairs; matcher agrees on {self.agree} ({pct:.3f} %); "
                f"on the {self.records - len(self.inconsistent)} consistent records "
                f"{self.consistent_agree}/{self.consistent_pairs} ({cpct:.3f} %); "
                f"{len(self.inconsistent)} inconsistent records; {self.withdrawn} withdrawn skipped")


def _universe(advisories: tuple[Advisory, ...]) -> dict[str, set[str]]:
    releases: dict[str, set[str]] = defaultdict(set)
    for adv in advisories:
        for entry in adv.affected:
            if entry.purl_type == "pypi":
                releases[entry.normalized_name].update(entry.versions)
    return releases


def _matched_ids(universe: dict[str, set[str]], index: MemoryIndex) -> dict[tuple[str, str], set[str]]:
    matcher = Matcher(index)
    hits: dict[tuple[str, str], set[str]] = {}
    for name in sorted(universe):
        for version in sorted(universe[name]):
            comp = component_from_purl(f"pkg:pypi/{name}@{version}")
            found, _ = matcher.match_component(comp)
            hits[(name, version)] = {m.advisory.id for m in found}
    return hits


def _listed(version: str, versions: tuple[str, ...]) -> bool:
    if version in versions:
        return True
    parse = scheme_for("pypi").parse
    try:
        wanted = parse(version)
    except InvalidVersion:
        return False
    for listed in versions:
        try:
            if parse(listed) == wanted:
                return True
        except InvalidVersion:
            continue
    return False


def _range_only(version: str, entry) -> bool:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    scheme = scheme_for("pypi")
    try:
        parsed = scheme.parse(version)
    except InvalidVersion:
        return False
    return bool(evaluate(version, parsed, replace(entry, versions=()), scheme).matched)


def run_oracle(advisories: tuple[Advisory, ...]) -> OracleResult:
    result = OracleResult()
    universe = _universe(advisories)
    hits = _matched_ids(universe, MemoryIndex(advisories))
    for adv in advisories:
        entries = [e for e in adv.affected if e.versions and e.purl_type == "pypi"]
        if not entries:
            continue
        if adv.withdrawn:
            result.withdrawn += 1
            continue
        result.records += 1
        checks = []
        for entry in entries:
            for version in sorted(universe[entry.normalized_name]):
                expected = _listed(version, entry.versions)
                actual = adv.id in hits[(entry.normalized_name, version)]
                ranges = _range_only(version, entry)
                checks.append((entry.name, version, expected, actual, ranges))
        bad_ranges = [(n, v, e) for n, v, e, _, r in checks if r != e]
        if bad_ranges:
            result.inconsistent[adv.id] = "; ".join(
                f"{n} {v} {'listed but outside the ranges' if e else 'inside the ranges but not listed'}"
                for n, v, e in bad_ranges[:4]) + (f" (+{len(bad_ranges) - 4} more)" if len(bad_ranges) > 4 else "")
        for name, version, expected, actual, _ in checks:
            result.pairs += 1
            result.agree += expected == actual
            if adv.id not in result.inconsistent:
                result.consistent_pairs += 1
                result.consistent_agree += expected == actual
                if expected != actual:
                    result.disagreements.append(f"{adv.id} {name} {version}: expected {expected}")
    return result
