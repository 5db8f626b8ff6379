"""``stella init`` and ``stella key show|export``: set up a home; hand the appliance key to auditors."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

from appliance import keys, tls
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
@click.option("--tls-name", "tls_names", multiple=True, metavar="NAME",
              help="A DNS name or IP address the self-signed HTTPS certificate is for (repeat; "
                   f"default {' '.join(tls.DEFAULT_NAMES)}).")
@click.option("--no-tls-cert", is_flag=True, help="Do not create the self-signed HTTPS certificate.")
@json_option
def init(home: str | None, trust_file: Path, profile: str, registry_addr: str, tls_names: tuple[str, ...],
         no_tls_cert: bool, as_json: bool) -> None:
    """Create the database, the content store, the appliance signing key and an HTTPS certificate."""
    with handle_errors("stella init"):
        names = tls.check_names(tls_names or tls.DEFAULT_NAMES)
        target = resolve_home(home)
        at = now()
        signer = init_home(target, trust_file, at, profile, registry_addr)
        info: dict[str, object] = {"home": str(target.root),
                                   "applianceKey": {"keyid": signer.keyid, **signer.public_key.to_dict()}}
        pair = None if no_tls_cert else tls.create_self_signed(target, names, at)
        if pair:
            info["tls"] = {"cert": str(pair.cert), "key": str(pair.key), "names": list(pair.names),
                           "sha256": pair.sha256, "notAfter": pair.not_after.isoformat()}
        if as_json:
            emit_json(info)
            return
        click.echo(f"initialised appliance home {target.root}")
        click.echo(f"appliance key {signer.keyid}")
        click.echo(f"  {canonical.dumps(signer.public_key.to_dict()).decode()}")
        click.echo("give auditors the public key: stella key export --out appliance.pub.json")
        if pair:
            click.echo(f"self-signed HTTPS certificate {pair.cert} for {', '.join(pair.names)} "
                       f"(until {pair.not_after:%Y-%m-%d}; replace it with your CA's: docs/service.md)")
            click.echo(f"  SHA-256 fingerprint {pair.sha256}")


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
