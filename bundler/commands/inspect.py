"""``stella-bundler inspect``: what a kit holds, read from its manifest (signatures not checked)."""

from __future__ import annotations

from pathlib import Path

import click

from kit.cliutil import emit_json, fail, handle_errors, human_size
from kit.format import inspect_kit
from kit.timeutil import format_time


@click.command()
@click.argument("kit_path", metavar="KIT", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the manifest summary and index as JSON.")
def inspect(kit_path: Path, as_json: bool) -> None:
    """Show what KIT holds: identity, freshness, entries with sizes and digests, signatures.

    Only the manifest is read, and signatures are listed, not verified: use
    `stella-verify kit` to verify.
    """
    with handle_errors("stella-bundler"):
        result = inspect_kit(kit_path)
        if result.error is not None:
            fail(result.error, "stella-bundler")
        m, env = result.manifest, result.envelope
        assert m is not None and env is not None
        sigs = sorted(s.keyid for s in env.signatures)
        if as_json:
            emit_json({"kit": str(kit_path), "kitId": m.kit_id, "verified": False, "manifest": m.to_dict(),
                       "signatures": sigs, "fileSize": kit_path.stat().st_size})
            return
        click.echo(f"kit        {m.kit_id}  (signatures not verified; use stella-verify kit)")
        click.echo(f"name       {m.name}   channel {m.channel}   sequence {m.sequence}   kind {m.kind}")
        click.echo(f"created    {format_time(m.created)}   expires {format_time(m.expires)}")
        click.echo(f"generator  {m.generator['name']} {m.generator['version']}")
        click.echo(f"content    {len(m.entries)} entries, {human_size(m.total_size)} "
                   f"(file {human_size(kit_path.stat().st_size)})")
        for keyid in sigs:
            click.echo(f"signature  {keyid}")
        width = max((len(e.path) for e in m.entries), default=10)
        for e in m.entries:
            click.echo(f"  {e.path:<{width}}  {human_size(e.size):>10}  {e.sha256[:16]}  {e.media_type}")
