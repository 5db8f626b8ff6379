"""``stella drift [ENV|TARGET] [--json]``: exit 0 when targets run what was deployed, 1 if not."""

from __future__ import annotations

import sys

import click

from appliance.commands.opening import opened
from appliance.commands.options import home_option, json_option
from appliance.deploy import inspect, recovery
from appliance.home import actor
from clisupport import emit_json, handle_errors
from kit import exitcodes


@click.command("drift")
@click.argument("what", required=False, metavar="[ENV|TARGET]")
@home_option
@json_option
def drift(what: str | None, home: str | None, as_json: bool) -> None:
    """Compare running containers and the signed sticker with the deployed lock file."""
    with handle_errors("stella drift"), opened(home, notice_deploys=False) as (h, db):
        recovery.recover_if_idle(h, db, actor())
        report = inspect.drift_report(h, db, what)
    results, down = report.results, report.down
    if as_json:
        emit_json(report.to_dict())
    else:
        if not results and not down:
            click.echo("no targets (stella target add NAME --env ENV --docker URL)")
        for r in results:
            click.echo(f"{r.target.name} ({r.target.environment}) {r.release or 'nothing deployed'}: "
                       f"{'matches' if not r.differences else str(len(r.differences)) + ' difference(s)'}")
            for d in r.differences:
                click.echo(f"    {d.service:<16} {d.kind:<16} {d.detail}")
        for u in down:
            click.echo(f"{u['target']} ({u['environment']}): engine-unreachable: {u['error']}", err=True)
    if down:
        sys.exit(exitcodes.IO_ERROR)
    if any(r.differences for r in results):
        sys.exit(exitcodes.REFUSED)
