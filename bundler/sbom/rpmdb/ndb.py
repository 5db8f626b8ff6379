"""Header blobs of an NDB ``Packages.db`` (rpm's own format; SUSE, ``--with-ndb``).

Layout (rpm ``lib/backend/ndb/rpmpkg.c``; all numbers little-endian 32-bit):

- a 32-byte database header: magic ``RpmP``, version 0, generation, slot page count,
  next package index;
- slot pages of 4096 bytes right after it (the header takes the first two 16-byte slots):
  each slot is magic ``Slot``, package index, block offset, block count; offset 0 is free;
- blobs at ``block offset * 16``: head (magic ``BlbS``, package index, timestamp, length),
  the header blob, zero padding, tail (Adler-32 of head + blob + padding, length, ``BlbE``).

Everything rpm checks when it reads is checked here, the Adler-32 included.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

from bundler.sbom.rpmdb.header import RpmdbError

MAGIC = b"RpmP"
_SLOT, _HEAD, _TAIL = b"Slot", b"BlbS", b"BlbE"
PAGE, SLOT, BLOCK = 4096, 16, 16
_HEAD_SIZE, _TAIL_SIZE = 16, 12


def blobs(data: bytes) -> Iterator[bytes]:
    """Every package's header blob, in slot order.

    Raises:
        RpmdbError: bad magic or version, a slot or blob outside the file, a bad blob
            head or tail, an Adler-32 mismatch.
    """
    if len(data) < 32 or data[:4] != MAGIC:
        raise RpmdbError("not an NDB Packages.db (no RpmP magic)")
    version, _generation, npages = struct.unpack_from("<III", data, 4)
    if version != 0:
        raise RpmdbError(f"NDB version {version} (only 0 is known)")
    if len(data) % BLOCK:
        raise RpmdbError(f"NDB file of {len(data)} bytes is not a whole number of blocks")
    if npages == 0 or npages * PAGE > len(data):
        raise RpmdbError(f"NDB header claims {npages} slot pages; the file has {len(data)} bytes")
    file_blocks, first_block = len(data) // BLOCK, npages * PAGE // BLOCK
    for pos in range(32, npages * PAGE, SLOT):
        magic, index, offset, count = struct.unpack_from("<4sIII", data, pos)
        if magic != _SLOT:
            raise RpmdbError(f"NDB slot at byte {pos} has no Slot magic")
        if offset == 0:
            continue
        if not index or not count or offset < first_block or offset + count > file_blocks:
            raise RpmdbError(f"NDB slot at byte {pos} (package {index}, blocks {offset}+{count}) "
                             f"is outside the file's {file_blocks} blocks")
        yield _blob(data, index, offset, count)


def _blob(data: bytes, index: int, offset: int, count: int) -> bytes:
    start, end = offset * BLOCK, (offset + count) * BLOCK
    magic, owner, _stamp, length = struct.unpack_from("<4sIII", data, start)
    if magic != _HEAD or owner != index:
        raise RpmdbError(f"NDB blob of package {index} at byte {start}: bad head")
    if count != (_HEAD_SIZE + length + _TAIL_SIZE + BLOCK - 1) // BLOCK:
        raise RpmdbError(f"NDB blob of package {index}: length {length} does not fit "
                         f"its {count} blocks")
    checksum, tail_length, tail_magic = struct.unpack_from("<I I 4s", data, end - _TAIL_SIZE)
    if tail_magic != _TAIL or tail_length != length:
        raise RpmdbError(f"NDB blob of package {index}: bad tail")
    if zlib.adler32(data[start:end - _TAIL_SIZE]) != checksum:
        raise RpmdbError(f"NDB blob of package {index}: Adler-32 mismatch")
    return data[start + _HEAD_SIZE:start + _HEAD_SIZE + length]
