"""Alpine packages from the apk installed database ``lib/apk/db/installed``.

Each package is a block of ``X:value`` lines: ``P`` name, ``V`` version, ``A`` arch,
``L`` license, ``o`` origin (the source package, the purl's ``upstream``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from packageurl import PackageURL

from bundler.sbom.catalogers.base import attribute, text
from bundler.sbom.layers import KeptFile
from bundler.sbom.model import Component, Distro

INSTALLED = "lib/apk/db/installed"


def parse_installed(data: bytes) -> Iterator[dict[str, str]]:
    """One dict per package block (only the first value of repeated keys is kept)."""
    fields: dict[str, str] = {}
    for line in (*text(data).splitlines(), ""):
        if not line.strip():
            if fields.get("P") and fields.get("V"):
                yield fields
            fields = {}
        elif len(line) > 1 and line[1] == ":":
            fields.setdefault(line[0], line[2:])


def _keys(data: bytes) -> Iterator[tuple[str, str]]:
    return ((f["P"], f["V"]) for f in parse_installed(data))


def apk_purl(fields: dict[str, str], distro: Distro | None) -> str:
    """``pkg:apk/alpine/NAME@VERSION?arch=…&distro=…&upstream=ORIGIN``."""
    qualifiers = {"arch": fields.get("A", ""), "upstream": fields.get("o", "")}
    if distro:
        qualifiers["distro"] = distro.qualifier
    namespace = distro.id if distro else "alpine"
    return PackageURL("apk", namespace, fields["P"], fields["V"],
                      {k: v for k, v in qualifiers.items() if v}).to_string()


class ApkCataloger:
    """Packages apk says are installed."""

    name = "apk"
    probe = None

    def wants(self, path: str) -> bool:
        """Only the installed database."""
        return path == INSTALLED

    def catalog(self, files: Mapping[str, KeptFile], distro: Distro | None,
                image: str) -> list[Component]:
        """One component per package block."""
        kept = files.get(INSTALLED)
        if kept is None:
            return []
        return [Component(apk_purl(f, distro), f["P"], f["V"], "apk", kept.path,
                          attribute(kept, (f["P"], f["V"]), _keys),
                          (f["L"],) if f.get("L") else (), self.name)
                for f in parse_installed(kept.data)]
