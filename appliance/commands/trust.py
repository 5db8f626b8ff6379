"""``stella trust show | update NEW_ROOT``: the active trust root and its rotation."""

from __future__ import annotations

from pathlib import Path

import click

from appliance import trust as trust_store
from appliance.commands.opening import opened
from appliance.commands.options import home_option, json_option
from appliance.home import actor
from clisupport import Seconds, emit_json, handle_errors
from kit.inputfile import read_file
from kit.timeutil import format_time, now


@click.group("trust")
def trust() -> None:
    """The trust root kits are verified against."""


@trust.command("show")
@home_option
@json_option
def show(home: str | None, as_json: bool) -> None:
    """The active trust root: keys, thresholds per channel, expiry, and the history."""
    with handle_errors("stella trust show"), opened(home, read_only=True) as (_h, db):
        root = trust_store.current(db)
        doc = {**root.summary(), "history": trust_store.history(db)}
        if as_json:
            emit_json(doc)
            return
        click.echo(f"trust root version {root.version} {root.digest}")
        click.echo(f"  expires {format_time(root.expires)}")
        click.echo(f"  root: {root.root.threshold} of {len(root.root.keyids)} keys")
        for name, role in sorted(root.channels.items()):
            click.echo(f"  channel {name}: {role.threshold} of {len(role.keyids)} keys")
        for h in doc["history"]:
            click.echo(f"  history: version {h['version']} installed {h['installedAt']} by {h['actor']}")


@trust.command("update")
@home_option
@click.argument("new_root", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--wait", type=Seconds(), default=0.0, show_default=True,
              help="Seconds to wait for a running import before failing (exit 5).")
def update(home: str | None, new_root: Path, wait: float) -> None:
    """Rotate to NEW_ROOT: accepted only if signed by the current root's threshold (and its own)."""
    with handle_errors("stella trust update"), opened(home) as (h, db):
        new = trust_store.rotate(h, db, read_file(new_root, "trust root"), actor(), now(), str(new_root), wait=wait)
        click.echo(f"trust root updated to version {new.version} {new.digest}")
