"""``stella kits``: what was imported, when, by whom; the active sequence per channel."""

from __future__ import annotations

import click

from appliance import kits as kit_list
from appliance.commands.opening import opened
from appliance.commands.options import home_option, json_option
from clisupport import emit_json, handle_errors


@click.command("kits")
@home_option
@json_option
def kits(home: str | None, as_json: bool) -> None:
    """List imported kits, newest first."""
    with handle_errors("stella kits"), opened(home, read_only=True) as (_h, db):
        rows, active = kit_list.listing(db)
        if as_json:
            emit_json({"kits": rows, "channels": active})
            return
        if not rows:
            click.echo("no kits imported yet")
            return
        for r in rows:
            mark = "*" if r["active"] else " "
            extra = f"  FORCED: {r['reason']}" if r["forced"] else ""
            click.echo(f"{mark} {r['channel']:<10} seq {r['sequence']:<5} {r['name']:<16} {r['kind']:<5} "
                       f"{r['imported_at']} by {r['actor']}  {r['kit_id'][:19]}…{extra}")
        click.echo("(* = active: highest sequence on its channel)")
