"""The matcher: components × advisory index, by indexed lookups, never a cross product.

For each component the index is asked for (purl type, normalized name) — and, for Debian
and Alpine packages, for their source/origin names too — and each returned affected
entry for that key is evaluated by the ecosystem's version rules (ranges.py). Withdrawn
advisories never match. Distribution advisories match only the same distribution
(purl namespace vs the ecosystem name, for deb/apk; for rpm a family covers its rebuilds:
Red Hat's advisories match CentOS, Rocky and Alma, never SUSE) and, when both name one, the same
release (``Debian:12`` vs ``distro=debian-12``; a dotted prefix counts: ``3.19`` matches
``3.19.1``). Problems (unsupported package types, invalid versions, unusable ranges) are
collected, never raised, so one bad input hides nothing else.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kit.findings.advisory import Advisory, Affected
from kit.findings.component import Component
from kit.findings.errors import FindingsError, InvalidVersion, Problem
from kit.findings.index import AdvisoryIndex
from kit.findings.ranges import CompiledEntry
from kit.findings.versions import Scheme, scheme_for

_RELEASE = re.compile(r"(\d+(?:\.\d+)*)")
_DISTRO_TYPES = ("deb", "apk", "rpm")
# RPM advisory families (the OSV ecosystem before ":", lower case) -> the purl namespaces they
# cover. Red Hat's data covers its rebuilds, as Grype and Trivy use it for CentOS, Rocky and
# Alma; a rebuild's own advisories cover only itself; SUSE's cover openSUSE too. A family not
# listed covers only the namespace of its own name.
_RPM_FAMILIES = {
    "red hat": {"redhat", "rhel", "centos", "rocky", "almalinux", "alma", "ol", "oracle"},
    "rocky linux": {"rocky"}, "almalinux": {"almalinux", "alma"},
    "suse": {"suse", "sles", "sle", "opensuse", "opensuse-leap", "opensuse-tumbleweed"},
    "opensuse": {"opensuse", "opensuse-leap", "opensuse-tumbleweed"},
}


@dataclass(frozen=True)
class Match:
    """One component inside one advisory's affected entry."""

    component: Component
    advisory: Advisory
    affected: Affected
    matched: tuple[str, ...]  # which ranges / "versions list" included the version


@dataclass(frozen=True)
class MatchResult:
    matches: tuple[Match, ...]
    problems: tuple[Problem, ...]


def _release_number(text: str) -> str:
    found = _RELEASE.search(text)
    return found.group(1) if found else ""


def same_distribution(component: Component, entry: Affected) -> bool:
    """False only when the component and entry name different distributions or releases."""
    if component.purl_type not in _DISTRO_TYPES:
        return True
    family = entry.ecosystem.partition(":")[0].strip().lower()
    if component.namespace and family and not _covers(component.purl_type, family, component.namespace.lower()):
        return False
    mine, theirs = _release_number(component.distro), _release_number(entry.release)
    if not mine or not theirs:
        return True
    return mine == theirs or mine.startswith(theirs + ".") or theirs.startswith(mine + ".")


def _covers(purl_type: str, family: str, namespace: str) -> bool:
    if purl_type == "rpm":
        return namespace in _RPM_FAMILIES.get(family, {family})
    return namespace == family


@contextmanager
def paused_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector for one matching run, then restore it.

    Matching decodes and builds hundreds of thousands of small acyclic objects (records
    read from the index, parsed versions); each allocation burst would trigger full
    collections that re-traverse everything alive, which measured 3x slower with the
    SQLite index. Reference counting still frees everything; nothing here makes cycles.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def memo_scheme(scheme: Scheme) -> Scheme:
    """*scheme* with an unbounded parse memo, for the lifetime of one matcher.

    The shared parse cache is bounded; a large run (20,000 components against 200,000
    advisories) sees more distinct version strings than it holds and would re-parse.
    """
    memo: dict[str, Any] = {}

    def parse(text: str) -> Any:
        found = memo.get(text)
        if found is None:
            try:
                found = scheme.parse(text)
            except InvalidVersion as exc:
                found = exc
            memo[text] = found
        if isinstance(found, InvalidVersion):
            raise found
        return found

    return Scheme(scheme.name, parse)


class Matcher:
    """Matches components against an index; caches compiled entries and parsed versions."""

    def __init__(self, index: AdvisoryIndex) -> None:
        self.index = index
        self._schemes: dict[str, Scheme] = {}
        # id(entry) -> compiled entry; the compiled entry holds the entry, so ids stay valid.
        self._compiled: dict[int, CompiledEntry] = {}

    def _scheme(self, purl_type: str) -> Scheme:
        found = self._schemes.get(purl_type)
        if found is None:
            found = self._schemes[purl_type] = memo_scheme(scheme_for(purl_type))
        return found

    def _compile(self, entry: Affected, scheme: Scheme) -> CompiledEntry:
        found = self._compiled.get(id(entry))
        if found is None or found.entry is not entry:
            found = CompiledEntry(entry, scheme)
            self._compiled[id(entry)] = found
        return found

    def _candidates(self, comp: Component) -> list[tuple[Advisory, Affected, str]]:
        seen: set[tuple[str, str, int]] = set()
        found = []
        for name in comp.lookup_names():
            for advisory in self.index.lookup(comp.purl_type, name):
                if advisory.withdrawn:
                    continue
                for pos, entry in enumerate(advisory.affected):
                    key = (advisory.id, advisory.source, pos)
                    if (entry.purl_type, entry.normalized_name) == (comp.purl_type, name) \
                            and key not in seen and same_distribution(comp, entry):
                        seen.add(key)
                        found.append((advisory, entry, name))
        return found

    def match_component(self, comp: Component) -> tuple[list[Match], list[Problem]]:
        try:
            scheme = self._scheme(comp.purl_type)
        except FindingsError as exc:
            return [], [Problem(comp.purl, "", f"skipped: {exc.message}")]
        problems: list[Problem] = []
        parsed: dict[str, object] = {}
        matches = []
        for advisory, entry, name in self._candidates(comp):
            version = comp.version_for(name)
            if version not in parsed:
                try:
                    parsed[version] = scheme.parse(version)
                except InvalidVersion as exc:
                    parsed[version] = None  # still matched against explicit versions lists
                    problems.append(Problem(comp.purl, "", f"ranges not evaluated: {exc.message}"))
            verdict = self._compile(entry, scheme).evaluate(version, parsed[version])
            problems.extend(Problem(advisory.source, advisory.id, msg) for msg in verdict.invalid)
            if verdict.matched:
                matches.append(Match(comp, advisory, entry, verdict.matched))
        return matches, problems

    def match(self, components: Iterable[Component]) -> MatchResult:
        with paused_cyclic_gc():
            return self._match(components)

    def _match(self, components: Iterable[Component]) -> MatchResult:
        matches: list[Match] = []
        problems: set[Problem] = set()
        for comp in sorted(components, key=lambda c: c.sort_key):
            found, probs = self.match_component(comp)
            matches.extend(found)
            problems.update(probs)
        return MatchResult(tuple(matches), tuple(sorted(problems)))


def match(components: Iterable[Component], index: AdvisoryIndex) -> MatchResult:
    """Match *components* against *index*; see ``Matcher``."""
    return Matcher(index).match(components)
