"""``stella rollback ENV [--to NAME@VERSION]`` (docs/deploy.md)."""

from __future__ import annotations

import click

from appliance import users
from appliance.commands.deploy import echo_report
from appliance.commands.gate_output import echo_gates
from appliance.commands.opening import opened
from appliance.commands.options import as_option, home_option, json_option
from appliance.deploy.errors import DeployFailed
from appliance.deploy.rollback import rollback as do_rollback
from appliance.promotions import store
from appliance.promotions.service import GatesBlocked
from clisupport import emit_json, handle_errors


@click.command("rollback")
@click.argument("env_name", metavar="ENV")
@click.option("--to", "to", default=None, metavar="NAME@VERSION", help="Default: the release deployed before.")
@click.option("--reason", default="")
@as_option
@home_option
@json_option
def rollback(env_name: str, to: str | None, reason: str, as_user: str | None, home: str | None,
             as_json: bool) -> None:
    """Redeploy the previous (or named) release through the same gates (deployer role)."""
    with handle_errors("stella rollback"), opened(home) as (h, db):
        actor = users.acting(db, as_user)
        try:
            outcome, report = do_rollback(h, db, env_name, to, reason, actor)
        except GatesBlocked as exc:
            echo_gates(exc.decision, err=True)
            raise
        p = store.get(db, outcome.promotion.id)      # deployed (or failed) by now
        if as_json:
            emit_json({"promotion": p.to_dict(), "deployment": report.to_dict() if report else None})
        elif report is None:
            click.echo(f"{p.id} rollback to {p.release} in {p.environment}: {p.state}; "
                       f"deploy it with stella deploy {p.id} once approved")
            echo_gates(outcome.decision)
        else:
            click.echo(f"{p.id} rollback to {p.release} in {p.environment}")
            echo_report(report)
        if report is not None and not report.ok:
            raise DeployFailed(report.message)
