"""Debian/Ubuntu packages from ``var/lib/dpkg/status`` and ``var/lib/dpkg/status.d/*``.

``status.d`` is where distroless images keep one stanza file per package. Licenses come
from ``usr/share/doc/PACKAGE/copyright`` when that file is machine-readable (DEP-5):
the short names of its ``License:`` fields.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from packageurl import PackageURL

from bundler.sbom.catalogers.base import attribute, text
from bundler.sbom.layers import KeptFile
from bundler.sbom.model import Component, Distro

STATUS = "var/lib/dpkg/status"
_STATUS_D = re.compile(r"^var/lib/dpkg/status\.d/[^/]+$")
_COPYRIGHT = re.compile(r"^usr/share/doc/([^/]+)/copyright$")
_SOURCE = re.compile(r"^(\S+)(?:\s+\((\S+)\))?$")


def parse_stanzas(data: bytes) -> Iterator[dict[str, str]]:
    """RFC-822-style stanzas; continuation lines are folded into the previous field."""
    for block in re.split(r"\n\s*\n", text(data)):
        fields: dict[str, str] = {}
        last = None
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and last:
                fields[last] += "\n" + line.strip()
            elif ":" in line:
                last, _, value = line.partition(":")
                fields[last] = value.strip()
        if fields.get("Package") and fields.get("Version"):
            yield fields


def _installed(fields: dict[str, str]) -> bool:
    status = fields.get("Status")  # status.d stanzas have no Status: they are installed
    return status is None or status.split()[-1:] == ["installed"]


def _key(fields: dict[str, str]) -> tuple[str, str, str]:
    return fields["Package"], fields["Version"], fields.get("Architecture", "")


def _keys(data: bytes) -> Iterator[tuple[str, str, str]]:
    return (_key(f) for f in parse_stanzas(data) if _installed(f))


def _licenses(data: bytes) -> tuple[str, ...]:
    body = text(data)
    if not body.startswith("Format:"):
        return ()  # free-form copyright text: no reliable license names
    found = [m.group(1).strip() for m in re.finditer(r"^License:[ \t]*(\S[^\n]*)$", body, re.M)]
    return tuple(dict.fromkeys(found))


def deb_purl(fields: dict[str, str], distro: Distro | None) -> str:
    """``pkg:deb/<distro id>/NAME@VERSION?arch=…&distro=…&upstream=SOURCE[@VER]``."""
    qualifiers = {"arch": fields.get("Architecture", "")}
    if distro:
        qualifiers["distro"] = distro.qualifier
    match = _SOURCE.match(fields.get("Source", ""))
    if match:
        src, src_version = match.groups()
        qualifiers["upstream"] = f"{src}@{src_version}" if src_version else src
    namespace = distro.id if distro and distro.id in ("debian", "ubuntu") else "debian"
    return PackageURL("deb", namespace, fields["Package"], fields["Version"],
                      {k: v for k, v in qualifiers.items() if v}).to_string()


class DpkgCataloger:
    """Packages dpkg says are installed."""

    name = "dpkg"
    probe = None

    def wants(self, path: str) -> bool:
        """The status database, status.d stanzas and copyright files."""
        return path == STATUS or bool(_STATUS_D.match(path) or _COPYRIGHT.match(path))

    def catalog(self, files: Mapping[str, KeptFile], distro: Distro | None,
                image: str) -> list[Component]:
        """One component per installed stanza."""
        out = []
        for path in sorted(files):
            if path != STATUS and not (_STATUS_D.match(path) and not path.endswith(".md5sums")):
                continue
            kept = files[path]
            for fields in parse_stanzas(kept.data):
                if _installed(fields):
                    out.append(self._component(fields, kept, files, distro))
        return out

    def _component(self, fields: dict[str, str], kept: KeptFile,
                   files: Mapping[str, KeptFile], distro: Distro | None) -> Component:
        name = fields["Package"]
        copyright_file = files.get(f"usr/share/doc/{name}/copyright")
        licenses = _licenses(copyright_file.data) if copyright_file else ()
        return Component(deb_purl(fields, distro), name, fields["Version"], "deb", kept.path,
                         attribute(kept, _key(fields), _keys), licenses, self.name)
