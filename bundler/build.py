"""Build a kit from kit.yaml: collect inputs, pull images, sign, write. No printing here."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bundler.images import ImageSet, Step, collect_images
from bundler.inputs import collect
from bundler.spec import KitSpec
from kit import __version__
from kit.crypto import Signer
from kit.format import EntrySource, write_kit
from kit.format.writer import WriteResult

GENERATOR = {"name": "stella-bundler", "version": __version__}


def default_cache_dir() -> Path:
    """``$STELLA_BUNDLER_CACHE``, else ``$XDG_CACHE_HOME/stella-bundler``, else ``~/.cache/stella-bundler``."""
    if os.environ.get("STELLA_BUNDLER_CACHE"):
        return Path(os.environ["STELLA_BUNDLER_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stella-bundler"


@dataclass
class BuildPlan:
    """Every entry the kit will carry, with what the releases resolved to."""

    sources: list[EntrySource]
    images: ImageSet = field(default_factory=ImageSet)

    @property
    def input_bytes(self) -> int:
        return sum(s.file.stat().st_size if s.file is not None else len(s.data or b"") for s in self.sources)


def plan_build(spec: KitSpec, cache_dir: Path | None = None, step: Step | None = None) -> BuildPlan:
    """Collect files and pull/catalog images (network, on the connected side)."""
    images = collect_images(spec.releases, registries=spec.registries, platforms=spec.platforms,
                            cache_dir=cache_dir or default_cache_dir(), created=spec.created, step=step)
    return BuildPlan(collect(spec) + images.sources, images)


def write_plan(spec: KitSpec, plan: BuildPlan, signers: Sequence[Signer], out: Path,
               progress: Callable[[int], None] | None = None) -> WriteResult:
    return write_kit(out, name=spec.name, channel=spec.channel, sequence=spec.sequence, created=spec.created,
                     expires=spec.expires, sources=plan.sources, signers=signers, generator=GENERATOR,
                     annotations=spec.annotations, progress=progress)


def build_kit(spec: KitSpec, signers: Sequence[Signer], out: Path, progress: Callable[[int], None] | None = None,
              cache_dir: Path | None = None) -> WriteResult:
    """Write the kit *spec* describes to *out*, signed by every signer."""
    return write_plan(spec, plan_build(spec, cache_dir), signers, out, progress)
