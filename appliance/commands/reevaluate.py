"""``stella reevaluate``: the policy gate of every deployed or pending release, again."""

from __future__ import annotations

import click

from appliance import users
from appliance.commands.opening import opened
from appliance.commands.options import as_option, home_option, json_option
from appliance.promotions import reevaluate as reeval
from clisupport import emit_json, handle_errors


@click.command("reevaluate")
@as_option
@home_option
@json_option
def reevaluate(as_user: str | None, home: str | None, as_json: bool) -> None:
    """Re-run the gates with today's advisories; list releases whose policy verdict changed."""
    with handle_errors("stella reevaluate"), opened(home) as (h, db):
        actor = users.acting(db, as_user)
        results = reeval.run(h, db, actor.name)
        changed = [c for c in results if c.before != c.after]
        if as_json:
            emit_json({"evaluated": len(results), "changes": [c.to_dict() for c in changed],
                       "results": [c.to_dict() for c in results]})
            return
        click.echo(f"{len(results)} deployed or pending promotion(s) re-evaluated, {len(changed)} changed")
        for c in changed:
            click.echo(f"  {c.promotion} {c.release} in {c.environment} ({c.state}): policy {c.before} → {c.after}: "
                       f"{c.reason}")
