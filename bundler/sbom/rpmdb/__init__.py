"""Reading an rpmdb in pure Python: SQLite, Berkeley DB hash and NDB (see docs/sbom.md).

The format is told by the content, not the file name: ``SQLite format 3`` (rpmdb.sqlite),
``RpmP`` (NDB Packages.db), or the Berkeley DB hash magic (Packages). Each package's
header blob is then parsed by :mod:`bundler.sbom.rpmdb.header`. No rpm binary and no
libdb are used (docs/adr/0008-rpmdb-without-rpm.md).
"""

from __future__ import annotations

from collections.abc import Iterable

from bundler.sbom.rpmdb import bdb, ndb, sqlite
from bundler.sbom.rpmdb.header import RpmdbError, RpmHeader, parse_header


def _blobs(data: bytes, wal: bytes | None) -> Iterable[bytes]:
    if data.startswith(sqlite.MAGIC):
        return sqlite.blobs(data, wal)
    if data.startswith(ndb.MAGIC):
        return ndb.blobs(data)
    if bdb.is_bdb_hash(data):
        return bdb.blobs(data)
    raise RpmdbError("not an rpmdb (neither SQLite, NDB nor Berkeley DB hash)")


def read_headers(data: bytes, wal: bytes | None = None) -> list[RpmHeader]:
    """The packages of one rpmdb file (*wal*: the ``-wal`` file next to an SQLite one).

    Raises:
        RpmdbError: the database or a header in it is malformed; the message says which
            package (by position) and what.
    """
    out = []
    for number, blob in enumerate(_blobs(data, wal), 1):
        try:
            out.append(parse_header(blob))
        except RpmdbError as exc:
            raise RpmdbError(f"header {number}: {exc}") from None
    return out


__all__ = ["RpmHeader", "RpmdbError", "parse_header", "read_headers"]
