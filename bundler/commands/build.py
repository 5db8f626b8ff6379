"""``stella-bundler build``."""

from __future__ import annotations

from pathlib import Path

import click

from bundler.build import build_kit, input_bytes
from bundler.spec import load_spec
from kit.cliutil import byte_progress, emit_json, handle_errors, human_size
from kit.crypto import load_key_dir
from kit.timeutil import format_time


@click.command()
@click.argument("spec_path", metavar="KIT_YAML", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--key", "keys", multiple=True, required=True, type=click.Path(path_type=Path),
              help="Signing key directory (repeat for a threshold).")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False),
              help="Kit file to write [default: NAME.stella-kit in the current directory].")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@click.option("--progress/--no-progress", default=True, help="Progress bar on a terminal.")
def build(spec_path: Path, keys: tuple[Path, ...], out: Path | None, as_json: bool, progress: bool) -> None:
    """Build and sign the kit described by KIT_YAML.

    The result depends only on KIT_YAML and the files it names (paths are relative to
    it), never on the working directory, time zone, locale or file times.
    SOURCE_DATE_EPOCH, when set, overrides kit.created.
    """
    with handle_errors("stella-bundler"):
        spec = load_spec(spec_path)
        signers = [s for s in (load_key_dir(k)[1] for k in keys) if s is not None]
        target = out or Path(f"{spec.name}.stella-kit")
        with byte_progress(f"building {target.name}", 2 * input_bytes(spec), progress) as advance:
            result = build_kit(spec, signers, target, progress=advance)
        m = result.manifest
        summary = {"kit": str(result.path), "kitId": m.kit_id, "name": m.name, "channel": m.channel,
                   "sequence": m.sequence, "created": format_time(m.created), "expires": format_time(m.expires),
                   "entries": len(m.entries), "bytes": m.total_size, "fileSize": result.file_size,
                   "fileSha256": result.file_sha256, "signedBy": sorted(s.keyid for s in result.envelope.signatures)}
        if as_json:
            emit_json(summary)
        else:
            click.echo(f"built {result.path}: kit {m.kit_id[:19]}… ({m.name}/{m.channel} #{m.sequence}), "
                       f"{len(m.entries)} entries, {human_size(m.total_size)} → {human_size(result.file_size)}, "
                       f"signed by {len(summary['signedBy'])} key(s)")
