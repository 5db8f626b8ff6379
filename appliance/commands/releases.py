"""``stella release``: releases as imported from kits, components pinned by digest."""

from __future__ import annotations

import click

from appliance import releases
from appliance.commands.opening import opened
from appliance.commands.options import home_option, json_option
from clisupport import emit_json, handle_errors

PROG = "stella release"


@click.group("release")
def release() -> None:
    """Releases imported from kits."""


@release.command("list")
@home_option
@json_option
def list_(home: str | None, as_json: bool) -> None:
    """Every NAME@VERSION imported (newest kit carrying it)."""
    with handle_errors(PROG), opened(home) as (_h, db):
        found = releases.listing(db)
        if as_json:
            emit_json([releases.to_dict(r) for r in found])
            return
        for r in found:
            click.echo(f"{r.label:<30} kit {r.kit_name} #{r.kit_sequence}  imported {r.imported_at}")


@release.command("show")
@click.argument("ref", metavar="NAME@VERSION")
@home_option
@json_option
def show(ref: str, home: str | None, as_json: bool) -> None:
    """A release's components pinned by digest, its SBOMs and the kits carrying it."""
    with handle_errors(PROG), opened(home) as (h, db):
        rel, shown = releases.show(h, db, ref)
        doc = shown["document"]
        if as_json:
            emit_json(shown)
            return
        click.echo(f"{rel.label}  created {doc.get('created')}  ({rel.path} sha256:{rel.sha256[:16]}…)")
        for comp in doc.get("components") or []:
            click.echo(f"  {comp.get('service')}: {comp.get('image')}@{comp.get('digest')}")
            for m in comp.get("manifests") or []:
                sbom = (m.get("sboms") or {}).get("cyclonedx") or "NO SBOM"
                click.echo(f"    {m.get('platform') or '-'} {m.get('digest')}  sbom {sbom}")
        for k in shown["kits"]:
            click.echo(f"  kit {k['kit']} #{k['sequence']} {k['kitId'][:19]}… imported {k['importedAt']}")
