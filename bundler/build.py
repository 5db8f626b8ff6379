"""Build a kit from kit.yaml: collect inputs, pull images, sign, write. No printing here."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bundler.inputs import collect
from bundler.sources import AdvisoryReport, BuildInfo, advisory_entries, file_uri, oci_uri, provenance_entry
from bundler.spec import KitSpec
from kit import __version__
from kit.crypto import Signer
from kit.format import Entry, EntrySource, Manifest, write_kit
from kit.format.delta import base_ref, check_successor, held_digests, verify_base
from kit.format.writer import WriteResult
from kit.inputfile import read_file
from kit.timeutil import now
from kit.trust.root import read_root_file, verify_chain

if TYPE_CHECKING:
    from bundler.images import ImageSet, Step

GENERATOR = {"name": "stella-bundler", "version": __version__}
Warn = Callable[[str], None]


def default_cache_dir() -> Path:
    """``$STELLA_BUNDLER_CACHE``, else ``$XDG_CACHE_HOME/stella-bundler``, else ``~/.cache/stella-bundler``."""
    if os.environ.get("STELLA_BUNDLER_CACHE"):
        return Path(os.environ["STELLA_BUNDLER_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stella-bundler"


@dataclass
class BuildPlan:
    """Every entry the kit will carry, with what the releases and advisories resolved to."""

    sources: list[EntrySource]
    images: ImageSet | None = None           # None: the kit carries no release
    advisories: AdvisoryReport | None = None

    @property
    def input_bytes(self) -> int:
        return sum(len(s.data) if s.data is not None else s.file.stat().st_size if s.file else 0
                   for s in self.sources)


def plan_build(spec: KitSpec, cache_dir: Path | None = None, step: Step | None = None,
               warn: Warn | None = None) -> BuildPlan:
    """Check and collect every input; pull and catalog images (network, connected side).

    Raises:
        SpecError: a bad input (kit.yaml, policy, VEX, advisories), naming the file.
        OCIError, SBOMError: a registry or layer problem, naming the image.
    """
    files = collect(spec, warn)
    advisories, report = advisory_entries(spec.advisories)
    images = None
    if spec.releases:
        from bundler.images import collect_images  # registry and SBOM libraries only when needed
        images = collect_images(spec.releases, registries=spec.registries, platforms=spec.platforms,
                                cache_dir=cache_dir or default_cache_dir(), created=spec.created, step=step,
                                sboms=spec.sboms)
    return BuildPlan(files + advisories + (images.sources if images else []), images,
                     report if spec.advisories else None)


def _inputs(spec: KitSpec, plan: BuildPlan, entries: Sequence[Entry]) -> list[tuple[str, str]]:
    """(uri, sha256) of everything the build read, for the provenance statement."""
    by_path = {e.path: e.sha256 for e in entries}
    inputs = [(file_uri(os.path.relpath(src.file, spec.base_dir)), by_path[src.path])
              for src in plan.sources if src.file is not None and not src.path.startswith("blobs/")]
    if plan.advisories is not None:
        inputs += [(file_uri(f.path), f.sha256) for src in plan.advisories.sources for f in src.files]
    vendor = plan.images.vendor_sboms if plan.images else []
    inputs += [(file_uri(os.path.relpath(c.sbom.spec.path, spec.base_dir)), hashlib.sha256(c.sbom.data).hexdigest())
               for _rel, c in vendor]
    pulled = plan.images.pulled if plan.images else {}
    inputs += [(oci_uri(ref, image.digest), image.digest.removeprefix("sha256:"))
               for ref, image in sorted(pulled.items())]
    return sorted(set(inputs))


def load_base(spec: KitSpec, base: Path, trust: Sequence[Path]) -> Manifest:
    """Verify *base* completely against the trust root chain *trust*, now, before it is used.

    Raises:
        KitError: the trust root or the base fails verification (the message names the base).
        BaseMismatch: the base is for another channel, or its sequence is not below the spec's.
    """
    root = verify_chain([read_root_file(p) for p in trust], now())
    manifest = verify_base(base, root, now()).manifest
    assert manifest is not None
    check_successor(manifest, spec.channel, spec.sequence, f"{spec.path.name} against base {base.name}")
    return manifest


def write_plan(spec: KitSpec, plan: BuildPlan, signers: Sequence[Signer], out: Path,
               progress: Callable[[int], None] | None = None, base: Manifest | None = None) -> WriteResult:
    """Sign and write the planned kit, adding the signed provenance over every entry.

    With *base* (a verified base kit), write a delta: entries whose content the base holds
    are inherited, not carried; the provenance still covers every entry of the whole.
    """
    unbound = tuple((rel, c.sbom.spec.service, c.path, c.sbom.spec.reason)
                    for rel, c in (plan.images.vendor_sboms if plan.images else []) if not c.bound)
    info = BuildInfo(spec.name, spec.channel, spec.sequence, spec.created, spec.path.name,
                     hashlib.sha256(read_file(spec.path, "kit.yaml")).hexdigest(), __version__, unbound_sboms=unbound)

    def provenance(entries: Sequence[Entry]) -> list[EntrySource]:
        return [provenance_entry(entries, _inputs(spec, plan, entries), info, signers)]

    return write_kit(out, name=spec.name, channel=spec.channel, sequence=spec.sequence, created=spec.created,
                     expires=spec.expires, sources=plan.sources, signers=signers, generator=GENERATOR,
                     annotations=spec.annotations, progress=progress, derived=provenance if signers else None,
                     kind="delta" if base else "full", base=base_ref(base) if base else None,
                     base_digests=held_digests(base) if base else None)


def build_kit(spec: KitSpec, signers: Sequence[Signer], out: Path, progress: Callable[[int], None] | None = None,
              cache_dir: Path | None = None, warn: Warn | None = None, base: Manifest | None = None) -> WriteResult:
    """Write the kit *spec* describes to *out*, signed by every signer (a delta on *base* if given)."""
    return write_plan(spec, plan_build(spec, cache_dir, warn=warn), signers, out, progress, base)
