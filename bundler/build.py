"""Build a kit from kit.yaml: collect inputs, sign, write. No printing here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from bundler.inputs import collect
from bundler.spec import KitSpec
from kit import __version__
from kit.crypto import Signer
from kit.format import write_kit
from kit.format.writer import WriteResult

GENERATOR = {"name": "stella-bundler", "version": __version__}


def build_kit(spec: KitSpec, signers: Sequence[Signer], out: Path,
              progress: Callable[[int], None] | None = None) -> WriteResult:
    """Write the kit *spec* describes to *out*, signed by every signer."""
    sources = collect(spec)
    return write_kit(out, name=spec.name, channel=spec.channel, sequence=spec.sequence, created=spec.created,
                     expires=spec.expires, sources=sources, signers=signers, generator=GENERATOR,
                     annotations=spec.annotations, progress=progress)


def input_bytes(spec: KitSpec) -> int:
    """Total bytes of the inputs (for progress bars)."""
    return sum(s.file.stat().st_size for s in collect(spec) if s.file is not None)
