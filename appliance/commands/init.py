"""``stella init`` and ``stella key show|export``: set up a home; hand the appliance key to auditors."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from appliance import keys
from appliance.commands.opening import opened
from appliance.commands.options import home_option, json_option
from appliance.home import resolve_home
from appliance.registry.config import DEFAULT_ADDR
from appliance.setup import init_home
from clisupport import emit_json, handle_errors
from kit import canonical
from kit.crypto import PROFILES
from kit.timeutil import now


@click.command("init")
@home_option
@click.option("--trust", "trust_file", required=True, type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="The trust root to anchor on (DSSE JSON from stella-bundler trust init).")
@click.option("--profile", type=click.Choice(PROFILES), default="default", show_default=True,
              help="Crypto profile of the appliance signing key.")
@click.option("--registry-addr", default=DEFAULT_ADDR, show_default=True,
              help="Address the local registry listens on (host:port).")
@json_option
def init(home: str | None, trust_file: Path, profile: str, registry_addr: str, as_json: bool) -> None:
    """Create the database, the content store and the appliance signing key."""
    with handle_errors("stella init"):
        target = resolve_home(home)
        signer = init_home(target, trust_file, now(), profile, registry_addr)
        info = {"home": str(target.root), "applianceKey": {"keyid": signer.keyid, **signer.public_key.to_dict()}}
        if as_json:
            emit_json(info)
            return
        click.echo(f"initialised appliance home {target.root}")
        click.echo(f"appliance key {signer.keyid}")
        click.echo(f"  {canonical.dumps(signer.public_key.to_dict()).decode()}")
        click.echo("give auditors the public key: stella key export --out appliance.pub.json")


@click.group("key")
def key() -> None:
    """The appliance signing key (signs import records)."""


@key.command("show")
@home_option
def key_show(home: str | None) -> None:
    """Print the appliance public key."""
    with handle_errors("stella key show"), opened(home) as (h, _db):
        pub = keys.public(h)
        click.echo(canonical.dumps({**pub.to_dict(), "keyid": pub.keyid}).decode())


@key.command("export")
@home_option
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the public key (key.pub.json format).")
def key_export(home: str | None, out: Path) -> None:
    """Write the appliance public key for stella-verify import-record --appliance-key."""
    with handle_errors("stella key export"), opened(home) as (h, _db):
        shutil.copyfile(h.keys / "key.pub.json", out)
        click.echo(f"wrote {out} (keyid {keys.public(h).keyid})")
