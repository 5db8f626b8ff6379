"""Findings of a decision, computed from its own inputs with ``kit.findings``.

The SBOM documents, the advisory records and the VEX documents carried as inputs are
parsed and matched here, so the appliance and ``stella-verify replay`` derive the very
same findings (pure: no index, no database).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kit.canonical import CanonicalJSONError, loads
from kit.errors import BadGateInput, KitFormatError
from kit.findings import MemoryIndex, Outcome, evaluate
from kit.findings.advisory import advisory_from_dict
from kit.findings.component import Component
from kit.findings.errors import FindingsError, Problem
from kit.findings.finding import Finding
from kit.findings.sbom import components_from_document, merge_components
from kit.findings.vex_load import parse_openvex
from kit.findings.vex_model import Statement


def _json(item: Mapping[str, str]) -> Any:
    try:
        return loads(item["content"], allow_floats=True)
    except CanonicalJSONError as exc:
        raise BadGateInput(f"{item['path']}: {exc}", entry=item["path"]) from None


def sbom_components(inputs: Mapping[str, Any]) -> tuple[list[Component], list[Problem]]:
    components: list[Component] = []
    problems: list[Problem] = []
    for item in inputs["sboms"]["documents"]:
        try:
            comps, probs = components_from_document(_json(item), item["path"])
        except FindingsError as exc:
            problems.append(Problem(item["path"], "", exc.message))
            continue
        components.extend(comps)
        problems.extend(probs)
    return list(merge_components(components)), problems


def vex_statements(inputs: Mapping[str, Any]) -> tuple[list[Statement], list[Problem]]:
    statements: list[Statement] = []
    problems: list[Problem] = []
    for item in inputs["vex"]["documents"]:
        try:
            parsed = parse_openvex(_json(item), item["path"])
        except (FindingsError, KitFormatError) as exc:
            problems.append(Problem(item["path"], getattr(exc, "entry", "") or "", str(exc)))
            continue
        statements.extend(parsed.statements)
        problems.extend(parsed.problems)
    return statements, problems


def compute(inputs: Mapping[str, Any]) -> Outcome:
    """Findings of the release: SBOM components × advisory records, VEX applied."""
    components, problems = sbom_components(inputs)
    statements, vex_problems = vex_statements(inputs)
    try:
        index = MemoryIndex(advisory_from_dict(r) for r in inputs["advisories"]["records"])
    except (KeyError, TypeError, ValueError, StopIteration) as exc:
        raise BadGateInput(f"advisories: a record is not a normalized advisory ({exc})", entry="advisories") from None
    return evaluate(components, index, statements, None, [*problems, *vex_problems])


def finding_fact(f: Finding) -> dict[str, Any]:
    """One finding as the policy sees it (docs/gates.md "Rego input")."""
    return {"id": f.id, "aliases": list(f.aliases), "advisories": list(f.advisories), "purl": f.purl,
            "type": f.purl_type, "name": f.name, "version": f.version, "severity": f.rating,
            "score": f.score, "fixed": list(f.fixed), "fixed_available": bool(f.fixed),
            "vex_status": f.vex.status, "suppressed": f.suppressed}
