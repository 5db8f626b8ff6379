"""``stella findings``: vulnerabilities of a release (appliance store) or of given files.

Ad-hoc form (no appliance state): ``--sbom`` (CycloneDX JSON), ``--advisories`` (OSV
files, folders, .zip exports, NDJSON; CSAF 2.0 documents) and ``--vex`` (OpenVEX, CSAF 2.0,
CycloneDX VEX), each repeatable. Exit
codes (docs/findings.md): 0 no unsuppressed finding at or above ``--fail-on``, 1 such
findings exist, 2 usage, 3 malformed input (or, with ``--strict``, any skipped record),
4 I/O.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import click

from clisupport import handle_errors
from kit import exitcodes
from kit.findings import (
    MemoryIndex,
    evaluate,
    load_advisories,
    load_sboms,
    load_tiers,
    load_vex,
    to_json,
    to_sarif,
    to_text,
)
from kit.findings.engine import Outcome
from kit.findings.finding import severity_rank

PROG = "stella findings"
FAIL_ON = ("any", "low", "medium", "high", "critical", "never")
STORE_MISSING = ("stella findings RELEASE needs the appliance store, which arrives with the "
                 "kit import issue; for now use --sbom/--advisories/--vex for an ad-hoc run")


def _fails(outcome: Outcome, fail_on: str) -> bool:
    if fail_on == "never":
        return False
    if fail_on == "any":
        return bool(outcome.active)
    return any(severity_rank(f.rating) >= severity_rank(fail_on) for f in outcome.active)


def _check_usage(release: str | None, sbom: tuple[Path, ...], advisories: tuple[Path, ...],
                 as_json: bool, sarif: bool) -> None:
    if as_json and sarif:
        raise click.UsageError("--json and --sarif cannot be combined")
    if release and sbom:
        raise click.UsageError("give either RELEASE or --sbom, not both")
    if release:
        return                          # the store form (appliance.release_findings)
    if not sbom or not advisories:
        raise click.UsageError("the ad-hoc form needs --sbom and --advisories")


def run(sbom: tuple[Path, ...], advisories: tuple[Path, ...], vex: tuple[Path, ...],
        tiers: Path | None) -> Outcome:
    """Load every input and evaluate; problems from all loaders end up in the outcome."""
    components, sbom_problems = load_sboms(sbom)
    loaded = load_advisories(advisories)
    statements, vex_problems = load_vex(vex)
    # Hundreds of thousands of long-lived advisory objects: keep the cyclic GC from
    # re-traversing them on every collection while matching (a 2x speed-up at scale).
    gc.freeze()
    return evaluate(components, MemoryIndex(loaded.records), statements,
                    load_tiers(tiers) if tiers else None,
                    sbom_problems + loaded.problems + vex_problems)


def _from_store(release: str, env: str | None, home: str | None) -> Outcome:
    """RELEASE[@VERSION] [--env ENV]: SBOMs, advisory index and VEX from the appliance."""
    from appliance.commands.opening import opened
    from appliance.errors import NotInitialisedError
    from appliance.release_findings import release_findings

    try:
        with opened(home) as (h, db):
            return release_findings(h, db, release, env)
    except NotInitialisedError as exc:
        raise NotInitialisedError(f"{exc.message}; the RELEASE form reads the appliance store "
                                  "(or use --sbom/--advisories/--vex for an ad-hoc run)") from None


@click.command("findings")
@click.argument("release", required=False)
@click.option("--env", help="Environment (with RELEASE; needs the appliance store).")
@click.option("--sbom", multiple=True, type=click.Path(path_type=Path),
              help="CycloneDX or SPDX 2 JSON SBOM file, folder or .zip (repeatable).")
@click.option("--advisories", multiple=True, type=click.Path(path_type=Path),
              help="OSV advisories (or CSAF 2.0 documents): file, folder, .zip export or NDJSON (repeatable).")
@click.option("--vex", multiple=True, type=click.Path(path_type=Path),
              help="OpenVEX, CSAF 2.0 or CycloneDX VEX document, folder or .zip (repeatable).")
@click.option("--trust-tiers", type=click.Path(path_type=Path),
              help="VEX issuer trust tiers (JSON); default: every issuer in one tier.")
@click.option("--json", "as_json", is_flag=True, help="Canonical JSON report.")
@click.option("--sarif", is_flag=True, help="SARIF 2.1.0 report.")
@click.option("--show-suppressed", is_flag=True, help="Also list findings VEX suppressed.")
@click.option("--fail-on", type=click.Choice(FAIL_ON), default="any", show_default=True,
              help="Lowest severity of an unsuppressed finding that makes the exit code 1.")
@click.option("--strict", is_flag=True, help="Exit 3 when any input record was skipped.")
@click.option("--home", "home", type=click.Path(file_okay=False), default=None,
              help="Appliance home for the RELEASE form (default: $STELLA_HOME, else /var/lib/stella).")
def findings(release: str | None, env: str | None, sbom: tuple[Path, ...],
             advisories: tuple[Path, ...], vex: tuple[Path, ...], trust_tiers: Path | None,
             as_json: bool, sarif: bool, show_suppressed: bool, fail_on: str,
             strict: bool, home: str | None = None) -> None:
    """Match SBOM components against advisories and apply VEX (docs/findings.md)."""
    _check_usage(release, sbom, advisories, as_json, sarif)
    with handle_errors(PROG):
        outcome = _from_store(release, env, home) if release else run(sbom, advisories, vex, trust_tiers)
    if as_json or sarif:
        data = (to_sarif if sarif else to_json)(outcome, show_suppressed)
        click.echo(data.decode("utf-8"))
    else:
        click.echo(to_text(outcome, show_suppressed), nl=False)
    for problem in outcome.problems:
        click.echo(f"{PROG}: skipped: {problem.one_line()}", err=True)
    if strict and outcome.problems:
        sys.exit(exitcodes.MALFORMED)
    sys.exit(exitcodes.REFUSED if _fails(outcome, fail_on) else exitcodes.OK)
