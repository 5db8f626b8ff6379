"""Maven artifacts in Java archives (``.jar .war .ear .jpi .hpi``), nested ones included.

An archive is found by its name wherever it sits. Zip needs to seek, a layer is a
stream: the layer reader hands the archive to :class:`JavaProbe`, which spools it to a
temporary file (in memory up to ``SPOOL_IN_MEMORY``, on disk beyond, never more than
``MAX_ARCHIVE_BYTES``), reads it with :mod:`bundler.sbom.javaarchive` and keeps only the
result (the packages and what was skipped, as canonical JSON), never the archive.
Coordinates come from ``pom.properties`` first, then ``MANIFEST.MF``, then the file name;
each becomes ``pkg:maven/GROUP/ARTIFACT@VERSION``. What was skipped (a zip bomb, an
archive nested too deep, an entry whose name escapes) is logged as a warning, naming the
image, the layer and the file; an archive that names no version at all, at level INFO.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from packageurl import PackageURL

from bundler.sbom.javaarchive import (
    ARCHIVE_SUFFIXES,
    NO_VERSION,
    SPOOL_IN_MEMORY,
    ArchiveLimits,
    Findings,
    JavaPackage,
    Skip,
    read_archive,
)
from bundler.sbom.layers import KeptFile
from bundler.sbom.model import Component, Distro
from bundler.sbom.probe import Excerpt, Read

MAGIC = b"stella:java-archive:1\n"
MAX_ARCHIVE_BYTES = 1024 * 1024 * 1024
_PIECE = 1024 * 1024
log = logging.getLogger(__name__)


def encode(findings: Findings) -> bytes:
    """The excerpt kept for one archive."""
    body = {"packages": [asdict(p) for p in findings.packages],
            "skips": [asdict(s) for s in sorted(findings.skips)]}
    return MAGIC + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def decode(data: bytes) -> Findings:
    """Inverse of :func:`encode`."""
    body = json.loads(data[len(MAGIC):])
    return Findings([JavaPackage(**{**p, "licenses": tuple(p["licenses"])}) for p in body["packages"]],
                    [Skip(**s) for s in body["skips"]])


@dataclass(frozen=True)
class JavaProbe:
    """Reads every Java archive as it streams past; keeps what it found."""

    limits: ArchiveLimits = ArchiveLimits()
    max_archive_bytes: int = MAX_ARCHIVE_BYTES

    def reader(self, path: str, mode: int, size: int) -> Excerpt | None:
        if not path.lower().endswith(ARCHIVE_SUFFIXES) or size <= 0:
            return None
        name = path.rpartition("/")[2]

        def excerpt(read: Read, size: int) -> bytes | None:
            if size > self.max_archive_bytes:
                return encode(Findings([], [Skip("", f"archive of {size} bytes, limit {self.max_archive_bytes}")]))
            with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
                left = size
                while left > 0:
                    piece = read(min(_PIECE, left))
                    if not piece:
                        break
                    spool.write(piece)
                    left -= len(piece)
                spool.seek(0)
                return encode(read_archive(spool, name, self.limits))
        return excerpt


PROBE = JavaProbe()


def maven_purl(group: str, artifact: str, version: str) -> str:
    """``pkg:maven/group/artifact@version`` (no namespace when the group is unknown)."""
    return PackageURL("maven", group or None, artifact, version).to_string()


class JavaCataloger:
    """Maven artifacts in Java archives, found by file name, read by :data:`PROBE`."""

    name = "java-archive"
    probe = PROBE

    def wants(self, path: str) -> bool:
        """Archives are read by the probe as they stream past, not kept whole."""
        return False

    def catalog(self, files: Mapping[str, KeptFile], distro: Distro | None,
                image: str) -> list[Component]:
        out: list[Component] = []
        for path in sorted(p for p, f in files.items()
                           if f.data.startswith(MAGIC) and p.lower().endswith(ARCHIVE_SUFFIXES)):
            kept = files[path]
            try:
                found = decode(kept.data)
            except (ValueError, TypeError, KeyError):
                continue    # not ours: a file that happens to start with the magic
            for skip in found.skips:
                where = f"{path}!/{skip.where}" if skip.where else path
                log.log(logging.INFO if skip.reason == NO_VERSION else logging.WARNING,
                        "image %s layer %s: %s: skipped: %s", image, kept.layer, where, skip.reason)
            for pkg in found.packages:
                name = f"{pkg.group}:{pkg.artifact}" if pkg.group else pkg.artifact
                located = f"{path}!/{pkg.where}" if pkg.where else path
                out.append(Component(maven_purl(pkg.group, pkg.artifact, pkg.version), name, pkg.version,
                                     "maven", located, kept.layer, pkg.licenses, self.name))
        return out
