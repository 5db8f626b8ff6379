"""``stella-bundler keygen``."""

from __future__ import annotations

from pathlib import Path

import click

from clisupport import emit_json, handle_errors
from kit.crypto import PROFILES, generate, write_key_dir


@click.command()
@click.option("--out", "out", type=click.Path(path_type=Path), required=True,
              help="Directory to create; it receives key.pem (private, 0600) and key.pub.json.")
@click.option("--profile", type=click.Choice(PROFILES), default="default", show_default=True,
              help="default = Ed25519; fips = ECDSA P-256 (SHA-256).")
@click.option("--force", is_flag=True, help="Replace a key already in the directory.")
@click.option("--json", "as_json", is_flag=True, help="Print the public key as JSON.")
def keygen(out: Path, profile: str, force: bool, as_json: bool) -> None:
    """Create a signing key pair in directory OUT."""
    with handle_errors("stella-bundler"):
        signer = generate(profile)
        write_key_dir(out, signer, force=force)
        if as_json:
            emit_json({"keyid": signer.keyid, "path": str(out), **signer.public_key.to_dict()})
        else:
            click.echo(f"key {signer.keyid} ({signer.public_key.scheme}) written to {out}")
