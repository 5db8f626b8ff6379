"""OSV range semantics: is a version inside an affected entry's ranges or versions list?

For each ``SEMVER``/``ECOSYSTEM`` range the events are sorted by version under the
ecosystem's rules (``introduced: "0"`` first) and walked in order, as the OSV schema's
evaluation algorithm says: an ``introduced`` at or below the version opens, a ``fixed``
at or below it closes, a ``last_affected`` strictly below it closes. Several
introduced/fixed pairs in one range therefore work. ``limit`` events cap the range: the
version must be below at least one limit (``*`` means no limit). ``GIT`` ranges name
commits, not versions, and never match here; the explicit ``versions`` list stands for
them. A version is affected when any range or the versions list says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kit.findings.advisory import Affected, Range
from kit.findings.errors import InvalidVersion
from kit.findings.versions import Scheme

_ORDER = {"introduced": 0, "last_affected": 1, "fixed": 2, "limit": 3}


@dataclass(frozen=True)
class Verdict:
    """Which parts of an affected entry include the version, and ranges skipped."""

    matched: tuple[str, ...]  # descriptions: a range's ``describe()`` or "versions list"
    invalid: tuple[str, ...]  # event versions the ecosystem rules reject


def _sorted_events(rng: Range, scheme: Scheme) -> list[tuple[Any, str]]:
    """(parsed version or None for introduced "0" / limit "*", kind), in walk order."""
    zero = [(None, e.kind) for e in rng.events if e.kind == "introduced" and e.version == "0"]
    rest = [(scheme.parse(e.version), _ORDER[e.kind], e.kind) for e in rng.events
            if not (e.kind == "introduced" and e.version == "0")
            and not (e.kind == "limit" and e.version == "*")]
    rest.sort(key=lambda item: item[:2])
    return zero + [(v, kind) for v, _, kind in rest]


def in_range(version: Any, rng: Range, scheme: Scheme) -> bool:
    """True when the parsed *version* lies in *rng*; raises ``InvalidVersion`` for a bad event."""
    affected = False
    limits = []
    for bound, kind in _sorted_events(rng, scheme):
        if kind == "introduced":
            if bound is None or version >= bound:
                affected = True
        elif kind == "fixed":
            if version >= bound:
                affected = False
        elif kind == "last_affected":
            if version > bound:
                affected = False
        else:
            limits.append(bound)
    if affected and limits and not any(version < limit for limit in limits):
        return False
    return affected


def listed_set(entry: Affected, scheme: Scheme) -> frozenset[Any] | None:
    """The entry's listed versions parsed, when the parsed values are hashable.

    Lets the matcher test "1.0.0" against a listed "1.0" by ecosystem equality in O(1).
    Debian/RPM/RubyGems values are not hashable (equal versions may be spelt
    differently), so those lists match by exact string only.
    """
    parsed = []
    for listed in entry.versions:
        try:
            parsed.append(scheme.parse(listed))
        except InvalidVersion:
            continue
    try:
        return frozenset(parsed)
    except TypeError:
        return None


def in_versions(text: str, parsed: Any, entry: Affected, listed: frozenset[Any] | None) -> bool:
    """Exact string match first; then equality under the ecosystem's rules ("1.0" == "1.0.0")."""
    if text in entry.versions:
        return True
    return parsed is not None and listed is not None and parsed in listed


def evaluate(text: str, parsed: Any, entry: Affected, scheme: Scheme,
             listed: frozenset[Any] | None = None) -> Verdict:
    """Evaluate one component version (string and parsed, or None) against *entry*."""
    matched: list[str] = []
    invalid: list[str] = []
    if parsed is not None:
        for rng in entry.ranges:
            if rng.type == "GIT":
                continue
            try:
                if in_range(parsed, rng, scheme):
                    matched.append(rng.describe())
            except InvalidVersion as exc:
                invalid.append(f"range skipped: {exc.message}")
    if entry.versions and in_versions(text, parsed, entry, listed):
        matched.append("versions list")
    return Verdict(tuple(matched), tuple(invalid))
