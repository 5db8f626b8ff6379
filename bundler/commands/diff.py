"""``stella-bundler diff OLD NEW``: what changes from one kit to the next, offline."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from clisupport import emit_json, handle_errors
from kit.diff import diff as compare, lines, opened
from kit.trust.root import TrustRoot, read_root_file, verify_chain

_kit = click.Path(path_type=Path, dir_okay=False)


@click.command()
@click.argument("old_path", metavar="OLD", type=_kit)
@click.argument("new_path", metavar="NEW", type=_kit)
@click.option("--trust", "trust", multiple=True, type=_kit,
              help="Also verify both kits' signatures against this trust root (repeat for a chain).")
@click.option("--json", "as_json", is_flag=True, help="Print the whole diff as JSON.")
def diff(old_path: Path, new_path: Path, trust: tuple[Path, ...], as_json: bool) -> None:
    """Show what changes from kit OLD to kit NEW.

    Releases added, removed and changed (per component digest), advisory records added,
    changed (with the fields that changed) and withdrawn, VEX statements, policy files (a
    unified diff of the Rego text), expiry, signing keys and trust roots, entries and
    sizes. Both kits are streamed once and every digest is checked; expiry is not (OLD
    is usually yesterday's kit). Either may be a delta: a delta on OLD reads what it
    inherits from OLD; content inherited from a kit that was not given is listed as
    unknown. No network. Exit 0 when both kits read, whatever changed.
    """
    with handle_errors("stella-bundler"):
        root = _root(trust)
        with opened(old_path, trust=root) as old, opened(new_path, trust=root) as new:
            old.fallback, new.fallback = new.by_digest, old.by_digest
            result = compare(old, new)
        if as_json:
            emit_json(result.to_dict())
        else:
            for line in lines(result):
                click.echo(line)


def _root(paths: tuple[Path, ...]) -> TrustRoot | None:
    if not paths:
        return None
    return verify_chain([read_root_file(p) for p in paths], dt.datetime.now(dt.UTC))
