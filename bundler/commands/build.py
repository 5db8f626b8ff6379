"""``stella-bundler build``."""

from __future__ import annotations

from pathlib import Path

import click

from bundler.build import default_cache_dir, load_base, plan_build, write_plan
from bundler.images import ReleaseDoc
from bundler.spec import load_spec
from clisupport import byte_progress, emit_json, handle_errors, human_size, step_progress
from kit.crypto import load_key_dir
from kit.timeutil import format_time


def _pinned(release: ReleaseDoc) -> dict[str, str]:
    """Each service of *release* with its image pinned: ``image@digest``."""
    return {c["service"]: f"{c['image']}@{c['digest']}" for c in release["components"]}


@click.command()
@click.argument("spec_path", metavar="KIT_YAML", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--key", "keys", multiple=True, required=True, type=click.Path(path_type=Path),
              help="Signing key directory (repeat for a threshold).")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False),
              help="Kit file to write [default: NAME.stella-kit in the current directory].")
@click.option("--cache-dir", type=click.Path(path_type=Path, file_okay=False),
              help="Where pulled images and SBOMs are cached between builds "
                   "[default: $STELLA_BUNDLER_CACHE or ~/.cache/stella-bundler].")
@click.option("--base", "base_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Build a delta kit on this base kit: carry only content the base lacks.")
@click.option("--trust", "trust", multiple=True, type=click.Path(path_type=Path, dir_okay=False),
              help="Trust root the base kit is verified against (repeat for a chain); needed with --base.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@click.option("--progress/--no-progress", default=True, help="Progress bars on a terminal.")
def build(spec_path: Path, keys: tuple[Path, ...], out: Path | None, cache_dir: Path | None,
          base_path: Path | None, trust: tuple[Path, ...], as_json: bool, progress: bool) -> None:
    """Build and sign the kit described by KIT_YAML.

    Images named by releases are pulled by digest (tags are resolved and recorded),
    cataloged into SBOMs and carried as an OCI layout. The result depends only on
    KIT_YAML, the files it names and the image digests, never on the working directory,
    time zone, locale or file times. SOURCE_DATE_EPOCH, when set, overrides kit.created.

    With --base, the base kit is verified completely against --trust first, and the kit
    written is a delta: it carries only entries whose content (sha256) the base does not
    hold and lists the others as inherited (docs/kit-format.md, "Delta kits").
    """
    if base_path is not None and not trust:
        raise click.UsageError("--base needs --trust ROOT: the base kit is verified before it is used")
    with handle_errors("stella-bundler"):
        spec = load_spec(spec_path)
        base = load_base(spec, base_path, trust) if base_path is not None else None
        signers = [s for s in (load_key_dir(k)[1] for k in keys) if s is not None]
        target = out or Path(f"{spec.name}.stella-kit")
        images = len({ref for rel in spec.releases for _, ref in rel.components})
        with step_progress("images", 2 * images, progress and images > 0) as step:
            plan = plan_build(spec, cache_dir or default_cache_dir(), step,
                              warn=lambda message: click.echo(f"warning: {message}", err=True))
        with byte_progress(f"packing {target.name}", 2 * plan.input_bytes, progress) as advance:
            result = write_plan(spec, plan, signers, target, progress=advance, base=base)
        m = result.manifest
        signed_by = sorted(s.keyid for s in result.envelope.signatures)
        releases = [{"name": r["name"], "version": r["version"], "components": _pinned(r)}
                    for r in (plan.images.releases if plan.images else [])]
        summary = {"kit": str(result.path), "kitId": m.kit_id, "name": m.name, "channel": m.channel,
                   "sequence": m.sequence, "created": format_time(m.created), "expires": format_time(m.expires),
                   "kind": m.kind, "base": m.base, "inherited": len(m.inherited),
                   "entries": len(m.entries), "bytes": m.total_size, "fileSize": result.file_size,
                   "fileSha256": result.file_sha256, "signedBy": signed_by,
                   "releases": releases,
                   "sbomSeconds": round(plan.images.sbom_seconds, 3) if plan.images else 0.0,
                   "sbomWorkSeconds": round(plan.images.sbom_work_seconds, 3) if plan.images else 0.0,
                   "advisories": plan.advisories.to_dict() if plan.advisories else None}
        if as_json:
            emit_json(summary)
            return
        delta = f" delta on #{m.base['sequence']} ({len(m.inherited)} inherited)," if m.base else ""
        click.echo(f"built {result.path}: kit {m.kit_id[:19]}… ({m.name}/{m.channel} #{m.sequence}),{delta} "
                   f"{len(m.entries)} entries, {human_size(m.total_size)} → {human_size(result.file_size)}, "
                   f"signed by {len(signed_by)} key(s)")
        if plan.advisories is not None:
            click.echo(f"  {plan.advisories.summary()}")
            for problem in plan.advisories.skipped:
                click.echo(f"  skipped {problem.one_line()}", err=True)
        for rel in (plan.images.releases if plan.images else []):
            for service, pinned in sorted(_pinned(rel).items()):
                click.echo(f"  {rel['name']}@{rel['version']}  {service:<12} {pinned}")
