"""Finding reports: canonical JSON, SARIF 2.1.0 and a plain text table.

All three are deterministic: findings are already sorted by (purl, version, id); JSON is
canonical (sorted keys, no whitespace); SARIF rules are sorted by id.
"""

from __future__ import annotations

from typing import Any

from kit import __version__
from kit.canonical import dumps
from kit.findings.engine import Outcome
from kit.findings.finding import Finding

SCHEMA = "stella.findings/v1"
_SARIF_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note",
                "none": "note", "unknown": "warning"}


def report_dict(outcome: Outcome, show_suppressed: bool = False) -> dict[str, Any]:
    shown = outcome.findings if show_suppressed else outcome.active
    return {
        "schema": SCHEMA,
        "summary": {"components": outcome.components, "findings": len(outcome.active),
                    "suppressed": len(outcome.suppressed), "skipped": len(outcome.problems)},
        "findings": [f.to_dict() for f in shown],
        "skipped": [p.to_dict() for p in outcome.problems],
    }


def to_json(outcome: Outcome, show_suppressed: bool = False) -> bytes:
    return dumps(report_dict(outcome, show_suppressed))


def _rule(finding: Finding) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": finding.id,
        "shortDescription": {"text": finding.summary or finding.id},
        "properties": {"tags": ["security"], "aliases": sorted(finding.ids - {finding.id})},
    }
    if finding.score:
        rule["properties"]["security-severity"] = finding.score
    return rule


def _result(finding: Finding) -> dict[str, Any]:
    fixed = ", ".join(finding.fixed) or "none known"
    message = (f"{finding.purl} is affected by {finding.id} ({finding.rating}); "
               f"fixed in: {fixed}; VEX: {finding.vex.status}")
    result: dict[str, Any] = {
        "ruleId": finding.id, "level": _SARIF_LEVEL.get(finding.rating, "warning"),
        "message": {"text": message},
        "locations": [{"logicalLocations": [{"name": finding.purl, "kind": "package"}]}],
        "properties": {"matched": list(finding.matched), "vex": finding.vex.status,
                       "locations": [loc.to_dict() for loc in finding.locations]},
    }
    if finding.suppressed:
        result["suppressions"] = [{"kind": "external", "justification": finding.vex.reason}]
    return result


def to_sarif(outcome: Outcome, show_suppressed: bool = False) -> bytes:
    shown = outcome.findings if show_suppressed else outcome.active
    rules = {f.id: _rule(f) for f in shown}
    sarif = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "stella-findings", "version": __version__,
                                "rules": [rules[k] for k in sorted(rules)]}},
            "results": [_result(f) for f in shown],
            "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": [
                {"level": "warning", "message": {"text": p.one_line()}}
                for p in outcome.problems]}],
        }],
    }
    return dumps(sarif)


def to_text(outcome: Outcome, show_suppressed: bool = False) -> str:
    shown = outcome.findings if show_suppressed else outcome.active
    lines = [f"{len(outcome.active)} finding(s), {len(outcome.suppressed)} suppressed by VEX, "
             f"{outcome.components} component(s), {len(outcome.problems)} skipped"]
    for f in shown:
        score = f" {f.score}" if f.score else ""
        lines.append(f"{f.id:<20} {f.rating}{score:<5} {f.purl}  fixed: "
                     f"{', '.join(f.fixed) or '-'}  vex: {f.vex.status}"
                     f"{'  aka ' + ', '.join(f.aliases) if f.aliases else ''}")
    for p in outcome.problems:
        lines.append(f"skipped: {p.one_line()}")
    return "\n".join(lines) + "\n"
