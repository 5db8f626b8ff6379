"""``stella evidence export``: a signed evidence packet for a promotion (docs/evidence.md)."""

from __future__ import annotations

from pathlib import Path

import click

from appliance import users
from appliance.commands.opening import opened
from appliance.commands.options import as_option, home_option
from appliance.promotions.packets import export_recorded
from clisupport import handle_errors
from kit.evidence.packet import TYPES


@click.group("evidence")
def evidence() -> None:
    """Evidence packets an auditor verifies and replays offline."""


@evidence.command("export")
@click.argument("promotion_id", metavar="PROMOTION-ID")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--type", "packet_type", type=click.Choice(TYPES), default="release_decision", show_default=True)
@click.option("--decision", default=None, help="A specific decision record digest (default: the latest).")
@as_option
@home_option
def export(promotion_id: str, out: Path, packet_type: str, decision: str | None, as_user: str | None,
           home: str | None) -> None:
    """Write the packet: decision record + every input, DSSE-signed by the appliance key."""
    with handle_errors("stella evidence export"), opened(home) as (h, db):
        actor = users.acting(db, as_user)
        data, digest = export_recorded(h, db, promotion_id, actor.name, packet_type=packet_type, decision=decision)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(out)
        click.echo(f"{out}: {packet_type} packet for {promotion_id} ({len(data)} bytes, {digest})")
