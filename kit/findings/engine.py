"""The findings pipeline as one call: match, group, apply VEX, report what was skipped.

``evaluate`` is what the ad-hoc command, the appliance and the verifier's replay all run;
it reads nothing itself (inputs are already-loaded values), so it is pure and
deterministic.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from kit.findings.component import Component
from kit.findings.errors import Problem
from kit.findings.finding import Finding, build_findings
from kit.findings.index import AdvisoryIndex
from kit.findings.match import Matcher
from kit.findings.vex import apply_vex
from kit.findings.vex_model import Statement, TrustTiers


@dataclass(frozen=True)
class Outcome:
    findings: tuple[Finding, ...]  # every finding, suppressed ones included
    problems: tuple[Problem, ...]  # everything skipped, with file and record
    components: int

    @property
    def active(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if not f.suppressed)

    @property
    def suppressed(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.suppressed)


def _by_vulnerability(statements: Iterable[Statement]) -> dict[str, list[Statement]]:
    table: dict[str, list[Statement]] = defaultdict(list)
    for statement in statements:
        for ident in statement.ids:
            table[ident].append(statement)
    return table


def evaluate(components: Iterable[Component], index: AdvisoryIndex,
             statements: Iterable[Statement] = (), tiers: TrustTiers | None = None,
             problems: Iterable[Problem] = ()) -> Outcome:
    """Findings for *components* against *index*, with VEX *statements* applied.

    *problems* met while loading the inputs are carried into the outcome, so the report
    lists everything that was skipped in one place.
    """
    comps = tuple(components)
    result = Matcher(index).match(comps)
    by_comp = {(c.purl, c.version): c for c in comps}
    by_vuln = _by_vulnerability(statements)
    tiers = tiers or TrustTiers.default()
    findings = []
    for finding in build_findings(result.matches):
        # once each, though found under several ids; by identity, not by ref: a later version of a
        # document (a newer kit's) has the same refs as the one it replaces, and both are evidence
        candidates = {id(s): s for i in finding.ids for s in by_vuln.get(i, ())}
        ordered = sorted(candidates.values(), key=lambda s: (s.ref, s.timestamp, s.status, s.file))
        decision = apply_vex(finding.ids, by_comp[(finding.purl, finding.version)], ordered, tiers)
        findings.append(finding.with_vex(decision))
    return Outcome(tuple(findings), tuple(sorted(set(result.problems) | set(problems))),
                   len(comps))
