"""What a Java archive (``.jar .war .ear .jpi .hpi``) says it contains, read with bounds.

An archive names its Maven coordinates in ``META-INF/maven/GROUP/ARTIFACT/pom.properties``
(one per artifact: a shaded jar has several); without one, its ``META-INF/MANIFEST.MF``
(``Implementation-*`` then ``Bundle-*`` fields); without either, its file name
(``name-1.2.3.jar``). Archives inside it (Spring Boot's ``BOOT-INF/lib``, a war's
``WEB-INF/lib``, an ear's modules) are read the same way, to a bounded depth.

Nothing is extracted: metadata entries are read into memory under a size cap, nested
archives into a temporary file (in memory up to ``SPOOL_IN_MEMORY``), and every archive
is checked before it is opened (entry count from its end record). Whatever
cannot be read — a nested archive too deep or too large, a corrupt zip, an entry whose
name escapes the archive — is returned as a :class:`Skip` naming the entry, never raised.
"""

from __future__ import annotations

import io
import posixpath
import re
import struct
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import IO

ARCHIVE_SUFFIXES = (".jar", ".war", ".ear", ".jpi", ".hpi")
NO_VERSION = "no pom.properties, manifest version or versioned file name"   # not an error: nothing to name
_POM_PROPERTIES = re.compile(r"^META-INF/maven/([^/]+)/([^/]+)/pom\.properties$")
_FILE_NAME = re.compile(r"^(?P<name>.+?)-(?P<version>\d[\w.+~]*(?:-[\w.+~]+)*)$")
_LICENSE_NAME = re.compile(rb"<license>\s*(?:<!--.*?-->\s*)*<name>\s*([^<]{1,200}?)\s*</name>", re.S)
_PROPERTY = re.compile(r"([^=:\s]+)\s*[=:]\s*(.*)$")
SPOOL_IN_MEMORY = 8 * 1024 * 1024        # a nested archive beyond this is spooled to a temporary file
_PIECE = 1024 * 1024
_BAD_ZIP = (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError, OSError,
            ValueError, KeyError, struct.error, zlib.error)
_EOCD, _EOCD64_LOCATOR = b"PK\x05\x06", b"PK\x06\x07"


@dataclass(frozen=True)
class ArchiveLimits:
    """Bounds on what one top-level archive may make us read."""

    max_depth: int = 8                          # archives inside archives
    max_entries: int = 100_000                  # per archive
    max_directory_bytes: int = 32 * 1024 * 1024   # its central directory (zipfile holds every entry)
    max_nested_bytes: int = 128 * 1024 * 1024   # one nested archive, uncompressed
    max_total_bytes: int = 512 * 1024 * 1024    # everything read out of one top-level archive
    max_meta_bytes: int = 1024 * 1024           # a manifest, pom.properties or pom.xml


@dataclass(frozen=True, order=True)
class JavaPackage:
    """A Maven artifact found in an archive; *where* is its archive's path inside the
    top-level one (``""`` for the top-level archive itself, ``a.jar!/b.jar`` nested)."""

    where: str
    group: str
    artifact: str
    version: str
    source: str                     # pom.properties, manifest or file-name
    licenses: tuple[str, ...] = ()


@dataclass(frozen=True, order=True)
class Skip:
    """Something in the archive that was not read, and why."""

    where: str
    reason: str


@dataclass
class Findings:
    """Packages and skips of one top-level archive."""

    packages: list[JavaPackage] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)


class _Budget:
    def __init__(self, limit: int) -> None:
        self.left = limit

    def take(self, n: int) -> bool:
        self.left -= n
        return self.left >= 0


def entry_count(fh: IO[bytes]) -> tuple[int, int] | None:
    """(entries, central directory bytes) the archive's end of central directory record
    declares (zip64 too); None when there is no end record."""
    fh.seek(0, io.SEEK_END)
    size = fh.tell()
    tail_len = min(size, 22 + 65535)
    fh.seek(size - tail_len)
    tail = fh.read(tail_len)
    at = tail.rfind(_EOCD)
    if at < 0 or at + 22 > len(tail):
        return None
    count, cd_size = struct.unpack_from("<HI", tail, at + 10)
    if (count == 0xFFFF or cd_size == 0xFFFFFFFF) and at >= 20 and tail[at - 20:at - 16] == _EOCD64_LOCATOR:
        (record_at,) = struct.unpack_from("<Q", tail, at - 20 + 8)
        fh.seek(record_at)
        record = fh.read(56)
        if len(record) == 56 and record[:4] == b"PK\x06\x06":
            count, cd_size = struct.unpack_from("<QQ", record, 32)
    return int(count), int(cd_size)


def _escapes(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":")


def _properties(data: bytes) -> dict[str, str]:
    """Java .properties, the subset pom.properties uses (``key=value``, ``#`` comments)."""
    out: dict[str, str] = {}
    for raw in data.decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        match = _PROPERTY.match(line)
        if match:
            out[match[1]] = match[2].strip()
    return out


def manifest(data: bytes) -> dict[str, str]:
    """MANIFEST.MF main section: ``Name: value`` with continuation lines (leading space)."""
    fields: dict[str, str] = {}
    last = ""
    for line in data.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not line:
            break                               # the main section ends at the first blank line
        if line.startswith(" ") and last:
            fields[last] += line[1:]
            continue
        key, sep, value = line.partition(":")
        if sep:
            last = key.strip()
            fields[last] = value.strip()
    return fields


def from_file_name(name: str) -> tuple[str, str] | None:
    """(artifact, version) from ``artifact-1.2.3.jar``, or None."""
    stem = posixpath.basename(name)
    for suffix in ARCHIVE_SUFFIXES:
        if stem.lower().endswith(suffix):
            stem = stem[:-len(suffix)]
            break
    match = _FILE_NAME.match(stem)
    return (match["name"], match["version"]) if match else None


def _from_manifest(fields: dict[str, str], file_name: str) -> tuple[str, str, str] | None:
    """(group, artifact, version) from manifest fields, or None when it names no version."""
    version = fields.get("Implementation-Version") or fields.get("Bundle-Version") or ""
    if not version:
        return None
    by_name = from_file_name(file_name)
    symbolic = fields.get("Bundle-SymbolicName", "").split(";")[0].strip()
    artifact = (by_name[0] if by_name else "") or fields.get("Implementation-Title", "") \
        or symbolic.rpartition(".")[2]
    if not artifact:
        return None
    group = fields.get("Implementation-Vendor-Id", "")
    if not group and symbolic:
        head, _, tail = symbolic.rpartition(".")
        group = head if tail == artifact and head else symbolic
    return group, artifact.replace(" ", "-"), version


def _license_names(pom_xml: bytes) -> tuple[str, ...]:
    return tuple(dict.fromkeys(m.decode("utf-8", "replace").strip()
                               for m in _LICENSE_NAME.findall(pom_xml)))


class _Reader:
    def __init__(self, limits: ArchiveLimits) -> None:
        self.limits = limits
        self.budget = _Budget(limits.max_total_bytes)
        self.out = Findings()

    def read(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int, where: str) -> bytes | None:
        """The entry's bytes, or None (a skip recorded) when over *cap* or the budget."""
        out = io.BytesIO()
        return out.getvalue() if self.copy(zf, info, cap, where, out) else None

    def copy(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int, where: str, out: IO[bytes]) -> bool:
        """Copy the entry into *out* in pieces; False (a skip recorded) when it is over *cap*
        or the budget, or does not inflate. A lying header cannot make us inflate more."""
        if info.file_size > cap:
            self.out.skips.append(Skip(where, f"{info.file_size} bytes uncompressed, limit {cap}"))
            return False
        total = 0
        try:
            with zf.open(info) as fh:
                while piece := fh.read(min(_PIECE, cap + 1 - total)):
                    total += len(piece)
                    if total > cap:
                        self.out.skips.append(Skip(where, f"more than {cap} bytes uncompressed"))
                        return False
                    if not self.budget.take(len(piece)):
                        self.out.skips.append(Skip(where, f"archive reads more than {self.limits.max_total_bytes} "
                                                          "bytes in all"))
                        return False
                    out.write(piece)
        except _BAD_ZIP as exc:
            self.out.skips.append(Skip(where, f"unreadable entry ({type(exc).__name__}: {exc})"[:300]))
            return False
        return True

    def archive(self, fh: IO[bytes], where: str, file_name: str, depth: int) -> None:
        prefix = f"{where}!/" if where else ""
        declared = entry_count(fh)
        if declared is None:
            self.out.skips.append(Skip(where, "not a zip archive (no end of central directory)"))
            return
        count, cd_size = declared
        if count > self.limits.max_entries:
            self.out.skips.append(Skip(where, f"{count} entries, limit {self.limits.max_entries}"))
            return
        if cd_size > self.limits.max_directory_bytes:      # zipfile parses all of it, whatever the count says
            self.out.skips.append(Skip(where, f"central directory of {cd_size} bytes, limit "
                                              f"{self.limits.max_directory_bytes}"))
            return
        fh.seek(0)
        with zipfile.ZipFile(fh) as zf:
            infos = zf.infolist()
            if len(infos) > self.limits.max_entries:
                self.out.skips.append(Skip(where, f"{len(infos)} entries, limit {self.limits.max_entries}"))
                return
            self._entries(zf, infos, prefix, where, file_name, depth)

    def _entries(self, zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], prefix: str, where: str,
                 file_name: str, depth: int) -> None:
        cap = self.limits.max_meta_bytes
        poms: list[JavaPackage] = []
        meta: dict[str, str] = {}
        licenses: dict[tuple[str, str], tuple[str, ...]] = {}
        nested: list[zipfile.ZipInfo] = []
        for info in infos:                      # central directory order: fixed by the bytes
            name = info.filename
            if (".." in name or name.startswith(("/", "\\")) or name[1:2] == ":") and _escapes(name):
                self.out.skips.append(Skip(prefix + name, "entry name escapes the archive; ignored"))
                continue
            if not name.startswith("META-INF/"):
                if name.lower().endswith(ARCHIVE_SUFFIXES):
                    nested.append(info)
                continue
            pom = _POM_PROPERTIES.match(name)
            if pom:
                data = self.read(zf, info, cap, prefix + name)
                props = _properties(data) if data is not None else {}
                group = props.get("groupId") or pom[1]
                artifact = props.get("artifactId") or pom[2]
                if props.get("version"):
                    poms.append(JavaPackage(where, group, artifact, props["version"], "pom.properties"))
            elif name.startswith("META-INF/maven/") and name.endswith("/pom.xml"):
                parts = name.split("/")
                if len(parts) == 5:
                    data = self.read(zf, info, cap, prefix + name)
                    if data is not None:
                        licenses[(parts[2], parts[3])] = _license_names(data)
            elif name == "META-INF/MANIFEST.MF":
                data = self.read(zf, info, cap, prefix + name)
                meta = manifest(data) if data is not None else {}
            elif name.lower().endswith(ARCHIVE_SUFFIXES):
                nested.append(info)
        bundle_license = tuple(x.strip() for x in meta.get("Bundle-License", "").split(",") if x.strip()
                               and len(x) < 200)
        if poms:
            for p in poms:
                found = licenses.get((p.group, p.artifact)) or bundle_license
                self.out.packages.append(JavaPackage(p.where, p.group, p.artifact, p.version, p.source, found))
        else:
            self._fallback(meta, where, file_name, bundle_license)
        for info in nested:
            self._nested(zf, info, prefix + info.filename, depth)

    def _fallback(self, meta: dict[str, str], where: str, file_name: str, licenses: tuple[str, ...]) -> None:
        coords = _from_manifest(meta, file_name)
        if coords is not None:
            self.out.packages.append(JavaPackage(where, *coords, "manifest", licenses))
            return
        by_name = from_file_name(file_name)
        if by_name is not None:
            self.out.packages.append(JavaPackage(where, "", by_name[0], by_name[1], "file-name", licenses))
        else:
            self.out.skips.append(Skip(where, NO_VERSION))

    def _nested(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, where: str, depth: int) -> None:
        if depth + 1 > self.limits.max_depth:
            self.out.skips.append(Skip(where, f"archive nested more than {self.limits.max_depth} deep"))
            return
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:   # memory stays bounded
            if self.copy(zf, info, self.limits.max_nested_bytes, where, spool):
                self.guarded(spool, where, info.filename, depth + 1)

    def guarded(self, fh: IO[bytes], where: str, file_name: str, depth: int) -> None:
        try:
            self.archive(fh, where, file_name, depth)
        except _BAD_ZIP as exc:
            self.out.skips.append(Skip(where, f"unreadable archive ({type(exc).__name__}: {exc})"[:300]))


def read_archive(fh: IO[bytes], file_name: str, limits: ArchiveLimits | None = None) -> Findings:
    """The packages of the (seekable) archive *fh*, named *file_name*, and what was skipped.

    Never raises on bad content; each problem is a :class:`Skip`.
    """
    reader = _Reader(limits or ArchiveLimits())
    reader.guarded(fh, "", file_name, 0)
    out = reader.out
    out.packages = sorted(set(out.packages))
    return out
