"""RPM packages from the rpmdb, in any of its three formats (see docs/sbom.md).

``var/lib/rpm`` and ``usr/lib/sysimage/rpm`` (where Fedora and SUSE moved it) may each
hold ``rpmdb.sqlite`` (RHEL 9, Fedora), ``Packages.db`` (NDB, SUSE) or ``Packages``
(Berkeley DB, RHEL 7/8); rpm reads one backend, so in each directory the first present
of that order is the database. The purl follows Syft:
``pkg:rpm/redhat/openssl@3.0.7-27.el9?arch=x86_64&distro=rhel-9.4&epoch=1&upstream=openssl-3.0.7-27.el9.src.rpm``
(namespace: the os-release ``ID``, ``rhel`` spelt ``redhat``). A corrupt database is an
error naming the image, the layer and the file, not an empty list: a package we do not
see is a vulnerability no gate can block.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping

from packageurl import PackageURL

from bundler.sbom.catalogers.base import attribute
from bundler.sbom.errors import PackageDatabaseError
from bundler.sbom.layers import KeptFile
from bundler.sbom.model import Component, Distro
from bundler.sbom.rpmdb import RpmdbError, RpmHeader, read_headers

DIRECTORIES = ("var/lib/rpm", "usr/lib/sysimage/rpm")
BACKENDS = ("rpmdb.sqlite", "Packages.db", "Packages")     # rpm's preference, newest first
DATABASES = frozenset(f"{d}/{b}" for d in DIRECTORIES for b in BACKENDS)
_WAL = frozenset(f"{d}/rpmdb.sqlite-wal" for d in DIRECTORIES)
_NAMESPACES = {"rhel": "redhat"}


def _key(header: RpmHeader) -> tuple[str, str, str | None]:
    return header.name, header.evr, header.arch


def _keys(data: bytes) -> Iterator[Hashable]:
    """Packages of one version of a database, for layer attribution (a version that does
    not read has none: attribution then stops at the layer above it)."""
    try:
        return iter([_key(h) for h in read_headers(data)])
    except RpmdbError:
        return iter(())


def rpm_purl(header: RpmHeader, distro: Distro | None) -> str:
    """``pkg:rpm/<namespace>/NAME@VERSION-RELEASE?arch=…&distro=…&epoch=…&upstream=SRPM``."""
    qualifiers = {"arch": header.arch or "", "upstream": header.sourcerpm or "",
                  "epoch": "" if header.epoch is None else str(header.epoch)}
    if distro:
        qualifiers["distro"] = distro.qualifier
    namespace = _NAMESPACES.get(distro.id, distro.id) if distro else None
    return PackageURL("rpm", namespace, header.name, f"{header.version}-{header.release}",
                      {k: v for k, v in qualifiers.items() if v}).to_string()


def databases(paths: Mapping[str, KeptFile]) -> list[str]:
    """The database rpm would read in each rpm directory of the image."""
    out = []
    for directory in DIRECTORIES:
        found = [f"{directory}/{b}" for b in BACKENDS if f"{directory}/{b}" in paths]
        out += found[:1]
    return out


class RpmCataloger:
    """Packages rpm says are installed."""

    name = "rpm"
    probe = None

    def wants(self, path: str) -> bool:
        """The rpmdb files (and an SQLite write-ahead log)."""
        return path in DATABASES or path in _WAL

    def catalog(self, files: Mapping[str, KeptFile], distro: Distro | None,
                image: str) -> list[Component]:
        """One component per header in each directory's database.

        Raises:
            PackageDatabaseError: a database or a header in it is malformed.
        """
        out = []
        for path in databases(files):
            kept = files[path]
            wal = files.get(path + "-wal") if path.endswith(".sqlite") else None
            try:
                headers = read_headers(kept.data, wal.data if wal else None)
            except RpmdbError as exc:
                raise PackageDatabaseError(f"image {image} layer {kept.layer}: {path}: {exc}",
                                           entry=path) from None
            for header in headers:
                out.append(Component(
                    rpm_purl(header, distro), header.name, header.evr, "rpm", path,
                    attribute(kept, _key(header), _keys),
                    (header.license,) if header.license else (), self.name))
        return out
