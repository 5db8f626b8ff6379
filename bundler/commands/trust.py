"""``stella-bundler trust init | rotate | show``: the roots that say who may sign kits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from clisupport import emit_json, handle_errors
from kit import timeutil
from kit.crypto import PublicKey, Signer, load_key_dir
from kit.dsse import Envelope
from kit.trust import build_root, load_root_envelope, verify_chain
from kit.trust.root import TrustRoot, read_root_file

PROG = "stella-bundler"


def _keys(dirs: tuple[Path, ...]) -> tuple[list[PublicKey], list[Signer]]:
    publics, signers = [], []
    for d in dirs:
        public, signer = load_key_dir(d, need_private=False)
        publics.append(public)
        if signer is not None:
            signers.append(signer)
    return publics, signers


def _expires(text: str) -> dt.datetime:
    try:
        return timeutil.parse_time(text)
    except timeutil.TimeFormatError as exc:
        raise click.BadParameter(str(exc), param_hint="--expires") from None


def _write(out: Path, data: bytes) -> None:
    """Write atomically: a failed write leaves neither a partial root nor a stray temp file."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    try:
        tmp.write_bytes(data + b"\n")
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)


def _describe(root: TrustRoot) -> str:
    chans = ", ".join(f"{n} ({r.threshold} of {len(r.keyids)})" for n, r in sorted(root.channels.items()))
    return (f"trust root version {root.version} {root.digest[:19]}…: root {root.root.threshold} of "
            f"{len(root.root.keyids)} keys; channels {chans}; expires {timeutil.format_time(root.expires)}")


_common = [
    click.option("--key", "keys", multiple=True, required=True, type=click.Path(path_type=Path),
                 help="Key directory (repeat). Every key gets a vote on the channels and the root."),
    click.option("--threshold", type=click.IntRange(min=1), required=True,
                 help="Signatures needed on a kit (and on the next root)."),
    click.option("--channel", "channels", multiple=True, default=("stable",), show_default=True,
                 help="Channel these keys sign kits for (repeat)."),
    click.option("--expires", required=True, help="When this root stops being valid (RFC 3339 or YYYY-MM-DD)."),
    click.option("--out", type=click.Path(path_type=Path), required=True, help="Where to write the root."),
    click.option("--json", "as_json", is_flag=True, help="Print the root's summary as JSON."),
]


_Command = TypeVar("_Command", bound=Callable[..., Any])


def _with_common(func: _Command) -> _Command:
    for option in reversed(_common):
        func = option(func)
    return func


@click.group()
def trust() -> None:
    """Create, rotate and show trust roots."""


@trust.command("init")
@_with_common
def init(keys: tuple[Path, ...], threshold: int, channels: tuple[str, ...], expires: str, out: Path,
         as_json: bool) -> None:
    """Create trust root version 1, signed by every given key that has a private half."""
    with handle_errors(PROG):
        publics, signers = _keys(keys)
        envelope = _build(1, expires, publics, threshold, channels, signers)
        root = load_root_envelope(envelope.to_bytes(), str(out))
        verify_chain([root], timeutil.now())
        _write(out, envelope.to_bytes())
        emit_json(root.summary()) if as_json else click.echo(f"wrote {out}: {_describe(root)}")


@trust.command("rotate")
@click.option("--from", "old_path", type=click.Path(path_type=Path, exists=True, dir_okay=False), required=True,
              help="The current trust root.")
@click.option("--sign-with", "old_keys", multiple=True, required=True, type=click.Path(path_type=Path),
              help="Key directory of the current root's keys (repeat until its threshold is met).")
@_with_common
def rotate(old_path: Path, old_keys: tuple[Path, ...], keys: tuple[Path, ...], threshold: int,
           channels: tuple[str, ...], expires: str, out: Path, as_json: bool) -> None:
    """Make the next root version: signed by a threshold of the old root's keys and of its own."""
    with handle_errors(PROG):
        old = read_root_file(old_path)
        publics, new_signers = _keys(keys)
        _, old_signers = _keys(old_keys)
        envelope = _build(old.version + 1, expires, publics, threshold, channels, [*old_signers, *new_signers])
        new = load_root_envelope(envelope.to_bytes(), str(out))
        verify_chain([old, new], timeutil.now())
        _write(out, envelope.to_bytes())
        emit_json(new.summary()) if as_json else click.echo(f"wrote {out}: {_describe(new)}")


@trust.command("show")
@click.argument("roots", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(roots: tuple[Path, ...], as_json: bool) -> None:
    """Show trust roots (given several, the chain is verified and the newest shown)."""
    with handle_errors(PROG):
        loaded = [read_root_file(p) for p in roots]
        newest = verify_chain(loaded, timeutil.now()) if len(loaded) > 1 else loaded[0]
        emit_json(newest.summary()) if as_json else click.echo(_describe(newest))


def _build(version: int, expires: str, publics: list[PublicKey], threshold: int, channels: tuple[str, ...],
           signers: list[Signer]) -> Envelope:
    try:
        return build_root(version=version, expires=_expires(expires), keys=publics, root_threshold=threshold,
                          channels={c: (publics, threshold) for c in channels}, signers=signers)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
