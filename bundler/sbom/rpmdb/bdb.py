"""Header blobs of a Berkeley DB hash ``Packages`` file (RHEL/CentOS 5-8), without libdb.

Layout (libdb ``dbinc/db_page.h``; byte order from the magic, little-endian on x86):

- page 0 is the hash metadata: magic ``0x061561`` at 12, page size at 20, encryption at
  24, page type 8 at 25, the last page number at 32;
- every page starts with a 26-byte header: its number at 8, next page at 16, entry
  count at 20, ``hf_offset`` at 22 (on an overflow page: the bytes it holds), type at 25;
- a hash page (type 13, or 2 unsorted) has ``entries`` 2-byte offsets after its header,
  pairs of key then value; an item runs from its offset to the previous item's offset
  (the page end for the first); its first byte says what it is: 1 the bytes inline,
  3 off-page (then page number at 4 and total length at 8 of the item);
- an off-page value is a chain of overflow pages (type 7) linked by ``next``.

rpm keys each header by its 4-byte instance number; key 0 holds a counter, not a header.
The chain of pages is checked as it is followed: a page number past the end, a page
seen twice (a loop), a page of another type or more bytes than the item's length are
refused. Checksummed or encrypted databases are refused (rpm does not configure either).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from bundler.sbom.rpmdb.header import RpmdbError

MAGIC = 0x061561
_META, _HASH, _HASH_UNSORTED, _OVERFLOW = 8, 13, 2, 7
_KEYDATA, _DUPLICATE, _OFFPAGE, _OFFDUP = 1, 2, 3, 4
_HEADER = 26
_COUNTER_KEY = b"\0\0\0\0"


def is_bdb_hash(data: bytes) -> bool:
    """True if *data* starts with a Berkeley DB hash metadata page (either byte order)."""
    return len(data) >= 512 and data[12:16] in (MAGIC.to_bytes(4, "little"),
                                                MAGIC.to_bytes(4, "big"))


def blobs(data: bytes) -> Iterator[bytes]:
    """Every header blob, in page order.

    Raises:
        RpmdbError: not a hash database, an unsupported one, or a corrupt page or chain.
    """
    if not is_bdb_hash(data):
        raise RpmdbError("not a Berkeley DB hash file (no hash magic)")
    order = "<" if data[12:16] == MAGIC.to_bytes(4, "little") else ">"
    size, = struct.unpack_from(order + "I", data, 20)
    encrypted, kind, flags = data[24], data[25], data[26]
    last, = struct.unpack_from(order + "I", data, 32)
    if size not in (512, 1024, 2048, 4096, 8192, 16384, 32768, 65536):
        raise RpmdbError(f"Berkeley DB page size {size} is not a power of two from 512 to 65536")
    if kind != _META:
        raise RpmdbError(f"Berkeley DB page 0 has type {kind}, not hash metadata")
    if encrypted or flags & 1:
        raise RpmdbError("Berkeley DB is encrypted or checksummed (not an rpmdb)")
    if (last + 1) * size > len(data):
        raise RpmdbError(f"Berkeley DB claims {last + 1} pages of {size} bytes; the file has "
                         f"{len(data)} (truncated)")
    pages = _Pages(data, size, last, order)
    for number in range(1, last + 1):
        if data[number * size + 25] in (_HASH, _HASH_UNSORTED):
            yield from pages.values(number)


class _Pages:
    def __init__(self, data: bytes, size: int, last: int, order: str) -> None:
        self.data, self.size, self.last, self.order = data, size, last, order

    def _u16(self, pos: int) -> int:
        return int(struct.unpack_from(self.order + "H", self.data, pos)[0])

    def _u32(self, pos: int) -> int:
        return int(struct.unpack_from(self.order + "I", self.data, pos)[0])

    def values(self, number: int) -> Iterator[bytes]:
        """The values of the key/value pairs on hash page *number*."""
        base, size = number * self.size, self.size
        entries = self._u16(base + 20)
        if entries % 2 or _HEADER + 2 * entries > size:
            raise RpmdbError(f"Berkeley DB page {number}: {entries} entries do not fit a page")
        offsets = [self._u16(base + _HEADER + 2 * i) for i in range(entries)]
        for i in range(0, entries, 2):
            key = self._item(number, offsets, i)
            value = self._item(number, offsets, i + 1)
            if key[:1] == bytes([_KEYDATA]) and key[1:] == _COUNTER_KEY:
                continue
            if value[0] == _KEYDATA:
                yield value[1:]
            elif value[0] == _OFFPAGE and len(value) >= 12:
                start, length = struct.unpack_from(self.order + "II", value, 4)
                yield self._chain(number, start, length)
            else:
                raise RpmdbError(f"Berkeley DB page {number}: item of type {value[0]} "
                                 "(rpm stores inline or off-page values only)")

    def _item(self, number: int, offsets: list[int], i: int) -> bytes:
        end = self.size if i == 0 else offsets[i - 1]
        start = offsets[i]
        if not _HEADER + 2 * len(offsets) <= start < end <= self.size:
            raise RpmdbError(f"Berkeley DB page {number}: item {i} at {start}..{end} is "
                             "outside the page")
        base = number * self.size
        return self.data[base + start:base + end]

    def _chain(self, number: int, start: int, length: int) -> bytes:
        parts, held, seen, page = [], 0, set(), start
        while page:
            if page > self.last or page in seen:
                raise RpmdbError(f"Berkeley DB page {number}: overflow chain reaches page {page} "
                                 f"({'a loop' if page in seen else 'past the last page'})")
            seen.add(page)
            base = page * self.size
            if self.data[base + 25] != _OVERFLOW:
                raise RpmdbError(f"Berkeley DB page {page}: type {self.data[base + 25]} in an "
                                 "overflow chain")
            used = self._u16(base + 22)
            held += used
            if _HEADER + used > self.size or held > length:
                raise RpmdbError(f"Berkeley DB page {page}: overflow data longer than the "
                                 f"{length}-byte item")
            parts.append(self.data[base + _HEADER:base + _HEADER + used])
            page = self._u32(base + 16)
        if held != length:
            raise RpmdbError(f"Berkeley DB page {number}: overflow chain holds {held} of "
                             f"{length} bytes")
        return b"".join(parts)
