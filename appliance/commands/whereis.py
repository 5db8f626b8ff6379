"""``stella whereis [NAME] [--json]``: every environment and target, the release and digests there."""

from __future__ import annotations

import click

from appliance.commands.opening import opened
from appliance.commands.options import home_option, json_option
from appliance.deploy import inspect, recovery
from appliance.home import actor
from clisupport import emit_json, handle_errors


@click.command("whereis")
@click.argument("name", required=False, metavar="[NAME]")
@home_option
@json_option
def whereis(name: str | None, home: str | None, as_json: bool) -> None:
    """Where releases run (as deployed by the appliance; `stella drift` checks it is still so)."""
    with handle_errors("stella whereis"), opened(home, notice_deploys=False) as (h, db):
        recovery.recover_if_idle(h, db, actor())
        found = inspect.whereis(db, name)
        if as_json:
            emit_json(found)
            return
        if not found:
            click.echo(f"{name or 'nothing'} is not deployed anywhere" if name else "nothing is deployed")
        for d in found:
            click.echo(f"{d['environment']:<8} {d['target']:<16} {d['release']:<24} {d['deployment']} "
                       f"({d['promotion']}) at {d['deployedAt']}"
                       + (f", live colour {d['colour']} ({d['project']})" if d.get("colour") else ""))
            for svc, s in d["services"].items():
                click.echo(f"    {svc:<16} {s['image']}")
