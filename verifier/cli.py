"""``stella-verify``: offline checks for operators and auditors.

Exit codes (docs/cli.md): 0 verified; 1 verification failed; 2 usage error;
3 malformed input; 4 I/O or internal error.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click

from clisupport import byte_progress, emit_json, handle_errors, human_size, run_main
from kit import __version__, exitcodes, timeutil

PROG = "stella-verify"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name=PROG)
def cli() -> None:
    """Stella Ops verifier: check kits and evidence offline, without trusting the appliance."""


_appliance_key = click.option(
    "--appliance-key", "key_path", required=True, type=click.Path(path_type=Path, dir_okay=False),
    help="The appliance's public key (key.pub.json, from `stella key export`).")


def _at(value: str | None) -> datetime:
    if value is None:
        return timeutil.now()
    try:
        return timeutil.parse_time(value)
    except timeutil.TimeFormatError as exc:
        raise click.BadParameter(str(exc), param_hint="--at") from None


@cli.command("kit")
@click.argument("kit_path", metavar="KIT", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--trust", "trust", multiple=True, required=True, type=click.Path(path_type=Path, dir_okay=False),
              help="Trust root file. Repeat to give a chain of roots (oldest is the anchor).")
@click.option("--at", "at", metavar="TIME", help="Check validity at TIME instead of now (auditing history).")
@click.option("--channel", help="Require the kit to be for this channel.")
@click.option("--base", "bases", multiple=True, type=click.Path(path_type=Path, dir_okay=False),
              help="For a delta: its base kit (repeat for a chain down to a full kit); verifies the whole.")
@click.option("--json", "as_json", is_flag=True, help="Print a report with every check and its outcome.")
@click.option("--progress/--no-progress", default=True, help="Progress bar on a terminal.")
def kit_cmd(kit_path: Path, trust: tuple[Path, ...], at: str | None, channel: str | None,
            bases: tuple[Path, ...], as_json: bool, progress: bool) -> None:
    """Verify KIT: signatures against the trust root, then every entry in one streaming pass.

    A delta kit verifies alone (its signatures and the entries it carries); with --base
    each base is verified too, and every entry the delta inherits must be carried by them.
    """
    from verifier.kitcheck import verify_kit

    moment = _at(at)
    with handle_errors(PROG):
        # the uncompressed size is known only once the manifest is read: the bar counts bytes
        with byte_progress(f"verifying {kit_path.name}", None, progress) as advance:
            result = verify_kit(kit_path, trust, moment, channel, progress=advance, bases=bases)
        if as_json:
            emit_json({**result.to_dict(), "checkedAt": timeutil.format_time(moment)})
        if result.error is not None:
            if not as_json:
                click.echo(f"{PROG}: FAILED {kit_path}: {result.error.one_line()}", err=True)
            sys.exit(result.error.exit_code)
        if not as_json:
            m = result.manifest
            assert m is not None and result.signatures is not None
            kind = f" delta on #{m.base['sequence']}{' (base chain verified)' if bases else ''}," if m.base else ""
            click.echo(f"OK {kit_path}: kit {m.kit_id[:19]}… {m.name}/{m.channel} #{m.sequence},{kind} "
                       f"{result.entries_verified} entries ({human_size(result.bytes_verified)}) verified, "
                       f"{len(result.signatures.valid)} of {result.signatures.threshold} signatures, "
                       f"expires {timeutil.format_time(m.expires)}")
    sys.exit(exitcodes.OK)


@cli.command("import-record")
@click.argument("record_path", metavar="RECORD", type=click.Path(path_type=Path, dir_okay=False))
@_appliance_key
@click.option("--json", "as_json", is_flag=True, help="Print the verified record.")
def import_record_cmd(record_path: Path, key_path: Path, as_json: bool) -> None:
    """Verify an appliance import record: its signature and its shape.

    An import record lists every check the appliance ran on a kit, the kit's identity
    and sequence, the trust root used, the actor and the time (docs/appliance.md).
    """
    from kit.crypto import load_public_key_file
    from kit.evidence.import_record import verify_import_record
    from kit.inputfile import read_file

    with handle_errors(PROG):
        key = load_public_key_file(key_path)
        payload = verify_import_record(read_file(record_path, "import record"), key)
        if as_json:
            emit_json({"record": str(record_path), "verified": True, "signer": key.keyid, "payload": payload})
        else:
            kit = payload.get("kit", {}) if isinstance(payload.get("kit"), dict) else {}
            click.echo(f"OK {record_path}: import of {kit.get('kitId', payload.get('kitId', '?'))} "
                       f"signed by appliance key {key.keyid[:16]}…")
    sys.exit(exitcodes.OK)


@cli.command("evidence")
@click.argument("packet_path", metavar="PACKET", type=click.Path(path_type=Path, dir_okay=False))
@_appliance_key
@click.option("--json", "as_json", is_flag=True, help="Print every check and the decision summary.")
def evidence_cmd(packet_path: Path, key_path: Path, as_json: bool) -> None:
    """Verify an evidence packet: the appliance's signature and the digest of every document.

    Exit 0 verified, 1 bad signature or a digest mismatch (naming the document), 3 not a
    packet (docs/evidence.md).
    """
    from verifier.evidence import summary, verify_packet

    with handle_errors(PROG):
        packet, checks = verify_packet(packet_path, key_path)
        if as_json:
            emit_json({"packet": str(packet_path), "verified": True, "checks": checks, **summary(packet)})
        else:
            doc = summary(packet)
            subject = doc["subject"] or {}
            click.echo(f"OK {packet_path}: {doc['packetType']} {subject.get('promotion')} "
                       f"{(subject.get('release') or {}).get('name')}@{(subject.get('release') or {}).get('version')} "
                       f"→ {subject.get('environment')}: verdict {doc['verdict']}; signature and "
                       f"{len(checks) - 1} digests verified")
    sys.exit(exitcodes.OK)


@cli.command("replay")
@click.argument("packet_path", metavar="PACKET", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--appliance-key", "key_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Also verify the packet's signature and digests first.")
@click.option("--json", "as_json", is_flag=True, help="Print the replay result.")
def replay_cmd(packet_path: Path, key_path: Path | None, as_json: bool) -> None:
    """Recompute the decision from the packet's own inputs (the same kit.gates code).

    Exit 0 when the replayed decision record is byte-identical to the packet's; 1 with
    each difference named (which input, which gate) otherwise.
    """
    from verifier.replay import replay_file

    with handle_errors(PROG):
        if key_path is not None:
            from verifier.evidence import verify_packet
            verify_packet(packet_path, key_path)
        result = replay_file(packet_path)
    if as_json:
        emit_json({"packet": str(packet_path), "identical": result.identical, "recorded": result.recorded,
                   "replayed": result.replayed, "verdict": result.packet.record.get("verdict"),
                   "differences": list(result.differences),
                   "steps": [{"step": s.step, "kind": s.kind, "identical": s.identical, "detail": s.detail}
                             for s in result.steps]})
    elif result.identical:
        click.echo(f"OK {packet_path}: replayed decision is byte-identical ({result.recorded}); "
                   f"verdict {result.packet.record.get('verdict')}")
        for s in result.steps:
            click.echo(f"  OK step {s.step} ({s.kind}): {s.detail}")
    else:
        click.echo(f"{PROG}: DIFFERENT {packet_path}: replay gives {result.replayed}, the packet records "
                   f"{result.recorded}", err=True)
        for line in result.differences:
            click.echo(f"  - {line}", err=True)
    sys.exit(exitcodes.OK if result.identical else exitcodes.REFUSED)


def main() -> None:
    run_main(cli, PROG)
