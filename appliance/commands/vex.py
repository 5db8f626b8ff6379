"""``stella vex explain``: which VEX statements apply to a vulnerability in a component,
which one won and why (the rule set of docs/vex-consensus.md)."""

from __future__ import annotations

from pathlib import Path

import click

from clisupport import handle_errors
from kit.canonical import dumps
from kit.findings import MemoryIndex, load_advisories, load_tiers, load_vex
from kit.findings.advisory import Advisory
from kit.findings.component import Component, Location, component_from_purl
from kit.findings.match import Matcher
from kit.findings.vex import apply_vex
from kit.findings.vex_model import Decision, TrustTiers

PROG = "stella vex explain"


def known_ids(vuln: str, advisories: tuple[Advisory, ...]) -> frozenset[str]:
    """*vuln* and every id linked to it through advisory aliases (transitively)."""
    ids = {vuln}
    changed = True
    while changed:
        changed = False
        for advisory in advisories:
            if advisory.ids & ids and not advisory.ids <= ids:
                ids |= advisory.ids
                changed = True
    return frozenset(ids)


def _match_lines(comp: Component, ids: frozenset[str], index: MemoryIndex) -> list[str]:
    found, _ = Matcher(index).match_component(comp)
    hits = [m for m in found if m.advisory.ids & ids]
    if not hits:
        return [f"advisories: {comp.purl} is not in any affected range of {sorted(ids)}"]
    return [f"advisories: {m.advisory.id} matches ({'; '.join(m.matched)})" for m in hits]


def _text(vuln: str, comp: Component, ids: frozenset[str], decision: Decision) -> list[str]:
    lines = [f"{vuln} in {comp.purl}", f"ids considered: {', '.join(sorted(ids))}"]
    for c in decision.considered:
        tier = f" [tier {c.tier}]" if c.tier else ""
        lines.append(f"  {c.outcome:<10} {c.ref}: {c.status} by {c.issuer}{tier} — {c.why}")
    lines.append(f"effective status: {decision.status} "
                 f"({'suppressed' if decision.suppressed else 'stays a finding'})")
    lines.append(f"why: {decision.reason}")
    if decision.used:
        lines.append(f"statements used: {', '.join(decision.used)}")
    if decision.action_statement:
        lines.append(f"action: {decision.action_statement}")
    return lines


@click.group("vex")
def vex() -> None:
    """Inspect VEX statements and the consensus applied to findings."""


@vex.command("explain")
@click.argument("vulnerability")
@click.option("--component", "purl", required=True, help="Component purl (with version).")
@click.option("--image", default="", help="Image the component is in (pkg:oci/…@sha256:… or digest).")
@click.option("--vex", "vex_paths", multiple=True, required=True,
              type=click.Path(path_type=Path),
              help="OpenVEX, CSAF 2.0 or CycloneDX VEX file, folder or .zip (repeatable).")
@click.option("--advisories", multiple=True, type=click.Path(path_type=Path),
              help="OSV advisories, to resolve aliases and show the matching range.")
@click.option("--trust-tiers", type=click.Path(path_type=Path), help="Issuer trust tiers (JSON).")
@click.option("--json", "as_json", is_flag=True, help="Canonical JSON output.")
def explain(vulnerability: str, purl: str, image: str, vex_paths: tuple[Path, ...],
            advisories: tuple[Path, ...], trust_tiers: Path | None, as_json: bool) -> None:
    """Show which statements match VULNERABILITY in a component, which won, and why."""
    with handle_errors(PROG):
        comp = component_from_purl(purl, locations=(Location(image, ""),) if image else ())
        loaded = load_advisories(advisories)
        ids = known_ids(vulnerability, loaded.records)
        statements, problems = load_vex(vex_paths)
        tiers = load_tiers(trust_tiers) if trust_tiers else None
        decision = apply_vex(ids, comp, statements, tiers or TrustTiers.default())
    if as_json:
        click.echo(dumps({"vulnerability": vulnerability, "component": purl,
                          "ids": sorted(ids), "decision": decision.to_dict(),
                          "skipped": [p.to_dict() for p in problems]}).decode("utf-8"))
        return
    lines = _text(vulnerability, comp, ids, decision)
    if advisories:
        lines += _match_lines(comp, ids, MemoryIndex(loaded.records))
    lines += [f"skipped: {p.one_line()}" for p in problems]
    click.echo("\n".join(lines))

