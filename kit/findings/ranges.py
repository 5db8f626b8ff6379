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


Walk = list[tuple[Any, str]]


def compile_range(rng: Range, scheme: Scheme) -> Walk:
    """(parsed bound or None for introduced "0" / limit "*", kind), in walk order.

    Raises:
        InvalidVersion: an event's version is not valid for the ecosystem.
    """
    zero = [(None, e.kind) for e in rng.events if e.kind == "introduced" and e.version == "0"]
    rest = [(scheme.parse(e.version), _ORDER[e.kind], e.kind) for e in rng.events
            if not (e.kind == "introduced" and e.version == "0")
            and not (e.kind == "limit" and e.version == "*")]
    rest.sort(key=lambda item: item[:2])
    return zero + [(v, kind) for v, _, kind in rest]


def walk(version: Any, events: Walk) -> bool:
    """The OSV evaluation walk over compiled events."""
    affected = False
    limits = []
    for bound, kind in events:
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


def in_range(version: Any, rng: Range, scheme: Scheme) -> bool:
    """True when the parsed *version* lies in *rng*; raises ``InvalidVersion`` for a bad event."""
    return walk(version, compile_range(rng, scheme))


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


class CompiledEntry:
    """An affected entry prepared once (events parsed and sorted) for many evaluations."""

    __slots__ = ("entry", "scheme", "ranges", "invalid", "_versions", "_listed", "_done")

    def __init__(self, entry: Affected, scheme: Scheme) -> None:
        self.entry, self.scheme = entry, scheme
        self.ranges: list[tuple[str, Walk]] = []
        self.invalid: list[str] = []
        for rng in entry.ranges:
            if rng.type == "GIT":
                continue
            try:
                self.ranges.append((rng.describe(), compile_range(rng, scheme)))
            except InvalidVersion as exc:
                self.invalid.append(f"range skipped: {exc.message}")
        self._versions = frozenset(entry.versions)
        self._listed: frozenset[Any] | None = None
        self._done = False

    def _in_listed(self, parsed: Any) -> bool:
        if not self._done:  # built lazily: most lookups are settled by ranges or spelling
            self._listed, self._done = listed_set(self.entry, self.scheme), True
        return self._listed is not None and parsed in self._listed

    def evaluate(self, text: str, parsed: Any) -> Verdict:
        """Which ranges include the version; "versions list" when listed under the same
        spelling, or — when no range matched — when equal to a listed version."""
        matched = [desc for desc, events in self.ranges
                   if parsed is not None and walk(parsed, events)]
        if text in self._versions or (not matched and parsed is not None and self._versions
                                      and self._in_listed(parsed)):
            matched.append("versions list")
        return Verdict(tuple(matched), tuple(self.invalid))


def evaluate(text: str, parsed: Any, entry: Affected, scheme: Scheme) -> Verdict:
    """Evaluate one component version (string and parsed, or None) against *entry*."""
    return CompiledEntry(entry, scheme).evaluate(text, parsed)
