"""``stella plan KIT``: what importing KIT would change, before anyone imports it (docs/appliance.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from appliance.commands.options import home_option, json_option
from appliance.home import resolve_home
from appliance.plan.report import report
from appliance.plan.service import plan_kit
from clisupport import Seconds, emit_json, handle_errors
from kit import exitcodes

PROG = "stella plan"


@click.command("plan")
@home_option
@click.argument("kit", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--wait", type=Seconds(), default=0.0, show_default=True,
              help="Seconds to wait for a running import before failing (exit 5).")
@json_option
def plan(home: str | None, kit: Path, wait: float, as_json: bool) -> None:
    """Verify KIT exactly as `stella import` would and show what importing it would change.

    Nothing on the appliance changes: the import runs on a scratch copy. Shown: the diff
    between what the appliance holds before and after, and for every pending promotion and
    current deployment the findings that would appear or disappear (VEX applied) and the
    gate verdicts that would change. Exit 0 when no verdict changes, 1 when one would (or
    the kit is refused), 3/4/5 as for import.
    """
    with handle_errors(PROG):
        result = plan_kit(resolve_home(home), kit, wait=wait)
    if as_json:
        emit_json(result.to_dict())
    else:
        for line in report(result):
            click.echo(line)
    sys.exit(exitcodes.REFUSED if result.verdicts_change else exitcodes.OK)
