"""``stella import KIT``: all-or-nothing import (exit codes in docs/appliance.md)."""

from __future__ import annotations

from pathlib import Path

import click

from appliance.commands.options import home_option, json_option
from appliance.home import resolve_home
from appliance.importing.pipeline import ImportOptions, ImportOutcome, import_kit
from appliance.registry.autoseed import autoseed
from clisupport import Seconds, byte_progress, emit_json, handle_errors

PROG = "stella import"


@click.command("import")
@home_option
@click.argument("kit", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Verify everything, change nothing.")
@click.option("--force", is_flag=True, help="Import a kit not above the active sequence (needs --reason).")
@click.option("--reason", help="Why --force is used; recorded in the audit log and the import record.")
@click.option("--wait", type=Seconds(), default=0.0, show_default=True,
              help="Seconds to wait for another running import before failing (exit 5).")
@click.option("--no-seed", is_flag=True, help="Do not push the kit's images to the local registry afterwards.")
@json_option
def import_(home: str | None, kit: Path, dry_run: bool, force: bool, reason: str | None, wait: float,
            no_seed: bool, as_json: bool) -> None:
    """Verify KIT against the trust root and import it atomically."""
    if force and not (reason and reason.strip()):
        raise click.UsageError("--force needs --reason TEXT (it is recorded in the audit log)")
    with handle_errors(PROG):
        target = resolve_home(home)
        with byte_progress(f"importing {kit.name}", None, not as_json) as advance:
            outcome = import_kit(target, kit, ImportOptions(dry_run=dry_run, force=force, reason=reason,
                                                            wait=wait, progress=advance))
        seeded = None if no_seed or outcome.status != "imported" else autoseed(target, outcome.kit_id)
        if as_json:
            emit_json({**outcome.to_dict(), "seed": seeded})
        else:
            _print(outcome, seeded)


def _print(o: ImportOutcome, seeded: dict[str, object] | None) -> None:
    what = f"{o.name} sequence {o.sequence} ({o.kind}, channel {o.channel}) {o.kit_id}"
    if o.status == "already-imported":
        click.echo(f"already imported: {what}; nothing to do")
        return
    if o.status == "dry-run":
        click.echo(f"dry run: {what} verified; {len(o.checks)} checks passed; nothing changed")
        return
    click.echo(f"imported {what}")
    click.echo(f"  import {o.import_id}: {o.new_blobs} new blobs, {o.bytes_written} bytes written"
               + ("; FORCED" if o.forced else ""))
    click.echo(f"  signed import record: {o.record}")
    for w in o.workflows:          # templates the kit carries (docs/workflows.md "From a kit")
        if w["status"] == "skipped":
            click.echo(f"  warning: workflow {w['warning']}", err=True)
        else:
            click.echo(f"  workflow {w['environment']}: {w['name']} {w['digest']} {w['status']}")
    if seeded and "error" in seeded:
        click.echo(f"  registry not seeded: {seeded['error']} (run stella registry seed later)")
    elif seeded and seeded.get("images"):
        click.echo(f"  registry seeded: {seeded['images']} images, {seeded['blobsPushed']} blobs pushed")
