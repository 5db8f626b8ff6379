"""The fields of an RPM header blob, as an rpmdb stores it.

A header blob (what ``headerExport`` writes, without the 8-byte magic of a package file)
is ``il`` and ``dl`` (big-endian 32-bit: index entries, data bytes), then ``il`` index
entries of 16 bytes (tag, type, offset into the data, count) and ``dl`` data bytes. Only
the tags a component needs are read; a later entry for a tag replaces an earlier one
(the "dribble" entries rpm appends after the immutable region win, as in
``headerImport``). Every count, offset and string is checked against the blob before it
is read: a header claiming more entries or data than it holds is refused, never trusted.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

NAME, VERSION, RELEASE, EPOCH, VENDOR, LICENSE, ARCH, SOURCERPM = (
    1000, 1001, 1002, 1003, 1011, 1014, 1022, 1044)
_WANTED = frozenset({NAME, VERSION, RELEASE, EPOCH, VENDOR, LICENSE, ARCH, SOURCERPM})
_INT32, _STRING, _STRING_ARRAY, _I18NSTRING = 4, 6, 8, 9
_STRINGS = (_STRING, _STRING_ARRAY, _I18NSTRING)
MAX_ENTRIES = 0xFFFF              # rpm's HEADER_TAGS_MAX
MAX_DATA = 0x0FFFFFFF             # rpm's HEADER_DATA_MAX (256 MiB)
_ENTRY = struct.Struct(">iIii")   # tag, type, offset, count


class RpmdbError(ValueError):
    """An rpmdb or a header in it is malformed (the message says what and where)."""


@dataclass(frozen=True)
class RpmHeader:
    """What the catalog needs of one installed package (``None``: the tag is absent)."""

    name: str
    version: str
    release: str
    epoch: int | None = None
    arch: str | None = None
    sourcerpm: str | None = None
    vendor: str | None = None
    license: str | None = None

    @property
    def evr(self) -> str:
        """``[EPOCH:]VERSION-RELEASE``, as rpm and Syft spell a package's version."""
        base = f"{self.version}-{self.release}"
        return f"{self.epoch}:{base}" if self.epoch is not None else base


def _string(data: bytes, offset: int, tag: int) -> str:
    end = data.find(b"\0", offset)
    if end < 0:
        raise RpmdbError(f"tag {tag}: string at data offset {offset} is not terminated")
    return data[offset:end].decode("utf-8", errors="replace")


def parse_header(blob: bytes) -> RpmHeader:
    """The package fields of one header blob.

    Raises:
        RpmdbError: the blob is truncated, claims more entries or data than it holds,
            has an entry pointing outside its data, or lacks a name, version or release.
    """
    if len(blob) < 8:
        raise RpmdbError(f"header of {len(blob)} bytes, shorter than its 8-byte preamble")
    il, dl = struct.unpack_from(">II", blob)
    if not 0 < il <= MAX_ENTRIES:
        raise RpmdbError(f"header claims {il} index entries (1 to {MAX_ENTRIES} allowed)")
    if dl > MAX_DATA:
        raise RpmdbError(f"header claims {dl} data bytes (at most {MAX_DATA})")
    need = 8 + 16 * il + dl
    if len(blob) < need:
        raise RpmdbError(f"header claims {il} entries and {dl} data bytes ({need} bytes) "
                          f"but the blob has {len(blob)}")
    data = blob[8 + 16 * il:need]
    found: dict[int, str | int] = {}
    for tag, kind, offset, count in _ENTRY.iter_unpack(blob[8:8 + 16 * il]):
        if tag not in _WANTED:
            continue
        if not 0 <= offset < dl or count <= 0:
            raise RpmdbError(f"tag {tag}: offset {offset} count {count} outside {dl} data bytes")
        if kind in _STRINGS:
            found[tag] = _string(data, offset, tag)   # the first string of an array / i18n
        elif kind == _INT32:
            if offset % 4 or offset + 4 > dl:
                raise RpmdbError(f"tag {tag}: 32-bit value at offset {offset} outside the data")
            found[tag] = struct.unpack_from(">I", data, offset)[0]
        else:
            raise RpmdbError(f"tag {tag} has unexpected type {kind}")
    return _fields(found)


def _fields(found: dict[int, str | int]) -> RpmHeader:
    def text(tag: int) -> str | None:
        value = found.get(tag)
        return value if isinstance(value, str) else None

    name, version, release = text(NAME), text(VERSION), text(RELEASE)
    if not name or not version or release is None:
        raise RpmdbError("header has no name, version or release")
    epoch = found.get(EPOCH)
    return RpmHeader(name, version, release, epoch if isinstance(epoch, int) else None,
                     text(ARCH), text(SOURCERPM), text(VENDOR), text(LICENSE))
