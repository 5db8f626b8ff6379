"""A fast streaming reader of layer tars: big decompressed chunks, a minimal header walker.

``tarfile`` in stream mode reads through several file wrappers in small pieces; on a
200 MB layer that costs more than the decompression itself. This module feeds zlib
(gzip, multi-member) or zstd with 1 MiB reads, takes up to 4 MiB of output at a time,
and walks the tar headers over those chunks: member content that no cataloger wants is
skipped by arithmetic, never copied.

It gives the same members, names and sizes as ``tarfile.open(mode="r|")`` for what
real layers contain (ustar, pax ``x`` records, GNU ``L``/``K`` long names, in any
nesting), with the same rules for a bad header (an error on the first header, the end
of the archive after it) and for a truncated member (an error). Anything rarer
(GNU sparse members, pax ``hdrcharset``, global pax records that change a path or a
size, unusual number encodings) raises :class:`Unsupported`, and the caller reads that
layer with ``tarfile`` instead, so the result never depends on which reader ran.
"""

from __future__ import annotations

import re
import tarfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

from bundler.sbom.errors import LayerLimitError


class _Inflater(Protocol):
    """What :func:`_gunzip` uses of a ``decompressobj`` (zlib's or ISA-L's)."""

    @property
    def eof(self) -> bool: ...
    @property
    def unused_data(self) -> bytes: ...
    @property
    def unconsumed_tail(self) -> bytes: ...
    def decompress(self, data: bytes, max_length: int = 0, /) -> bytes: ...


class Readable(Protocol):
    """What the reader needs of its input: a file, a decompressor, a pipe fed by a download."""

    def read(self, n: int = -1, /) -> bytes: ...


_decompressobj: Callable[[int], _Inflater]
_inflate_error: type[Exception]
try:  # ISA-L inflates gzip layers 2.4x faster than zlib here (127 MiB layer: 0.17 s vs 0.42 s)
    from isal import isal_zlib
    _decompressobj = isal_zlib.decompressobj
    _inflate_error = isal_zlib.error  # type: ignore[assignment]  # isal's stub types the class as an instance
except ImportError:  # pragma: no cover - isal is a declared dependency; zlib is the fallback
    _decompressobj, _inflate_error = zlib.decompressobj, zlib.error

INFLATE_ERRORS: tuple[type[Exception], ...] = (zlib.error, _inflate_error)

BLOCK = 512
READ_SIZE = 1 << 20          # compressed bytes per read
CHUNK_SIZE = 4 << 20         # most decompressed bytes held at once (bomb-safe steps)
_GZIP, _ZSTD = b"\x1f\x8b", b"\x28\xb5\x2f\xfd"
_ENCODING, _ERRORS = tarfile.ENCODING, "surrogateescape"   # tarfile.open's defaults
_NUMBER = re.compile(rb" *[0-7]* *(?:\0[\x00-\xff]*)?")     # what nti surely reads as octal
_NUMBER_FIELDS = ((100, 108), (108, 116), (116, 124), (124, 136), (136, 148), (329, 337),
                  (337, 345))
_PAX_RECORD = re.compile(rb"(\d+) ([^=]+)=")
_DIRTYPE, _AREGTYPE = tarfile.DIRTYPE, tarfile.AREGTYPE
_REGULAR = frozenset(tarfile.REGULAR_TYPES)
_SUPPORTED = frozenset(tarfile.SUPPORTED_TYPES)
_LONG = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK)
_PAX = (tarfile.XHDTYPE, tarfile.SOLARIS_XHDTYPE)
_KIND = {tarfile.DIRTYPE: "dir", tarfile.LNKTYPE: "link"}
_MAX_CHAIN = 16             # extension headers before one member (tarfile recursed)


class Unsupported(Exception):
    """A construct this reader does not handle; read the layer with ``tarfile``."""


class TarReadError(Exception):
    """The data is not a readable tar (mirrors ``tarfile.ReadError`` cases)."""


# tarfile's own header errors, raised and tested as tarfile does
_HeaderErrorType = type[tarfile.HeaderError]
_InvalidHeaderError: _HeaderErrorType = tarfile.InvalidHeaderError  # type: ignore[attr-defined]  # not in typeshed
_EOFHeaderError: _HeaderErrorType = tarfile.EOFHeaderError  # type: ignore[attr-defined]  # not in typeshed


def chunks(path: Path, max_bytes: int, where: str) -> Iterator[bytes]:
    """Decompressed chunks of the layer blob at *path* (format from magic bytes).

    Raises:
        LayerLimitError: more than *max_bytes* decompressed bytes.
        INFLATE_ERRORS, EOFError, OSError: bad or truncated compressed data.
    """
    with path.open("rb") as raw:
        yield from chunks_of(raw, max_bytes, where)


def chunks_of(raw: Readable, max_bytes: int, where: str) -> Iterator[bytes]:
    """As :func:`chunks`, from a file object read front to back (no seeking: it may be
    a pipe fed by a download)."""
    total = 0
    head = _read_exactly(raw, 4)
    src = _Prefixed(head, raw)
    if head.startswith(_GZIP):
        source = _gunzip(src)
    elif head == _ZSTD:
        source = _unzstd(src)
    else:
        source = iter(lambda: src.read(CHUNK_SIZE), b"")
    for chunk in source:
        total += len(chunk)
        if total > max_bytes:
            raise LayerLimitError(f"{where}: more than {max_bytes} uncompressed bytes",
                                  entry=where)
        yield chunk


def _read_exactly(raw: Readable, n: int) -> bytes:
    parts, need = [], n
    while need > 0:
        data = raw.read(need)
        if not data:
            break
        parts.append(data)
        need -= len(data)
    return b"".join(parts)


class _Prefixed:
    """*head* (already read to detect the format), then the rest of *raw*."""

    def __init__(self, head: bytes, raw: Readable) -> None:
        self.head, self.raw = head, raw

    def read(self, n: int = -1) -> bytes:
        if not self.head:
            return self.raw.read(n)
        if n is None or n < 0:
            out, self.head = self.head + self.raw.read(), b""
            return out
        out, self.head = self.head[:n], self.head[n:]
        return out if len(out) == n else out + self.raw.read(n - len(out))


def _gunzip(raw: Readable) -> Iterator[bytes]:
    """gzip members one after another; zero padding between them is allowed (as GzipFile)."""
    data = raw.read(READ_SIZE)
    while True:
        data = data.lstrip(b"\0")
        while not data or len(data) < 2 and data != b"\x1f":
            more = raw.read(READ_SIZE)
            if not more:
                if data:
                    raise OSError("Not a gzipped file (trailing garbage)")
                return
            data = (data + more).lstrip(b"\0")
        if len(data) < 2:
            more = raw.read(READ_SIZE)
            if not more:
                raise EOFError("Compressed file ended before the end-of-stream marker was reached")
            data += more
        if not data.startswith(_GZIP):
            raise OSError(f"Not a gzipped file ({data[:2]!r})")
        member = _decompressobj(31)
        pending = False
        while not member.eof:
            if not data and not pending:
                data = raw.read(READ_SIZE)
                if not data:
                    raise EOFError("Compressed file ended before the end-of-stream marker "
                                   "was reached")
            out = member.decompress(data, CHUNK_SIZE)
            data = member.unconsumed_tail
            pending = len(out) == CHUNK_SIZE
            if out:
                yield out
        data = member.unused_data + data


def _unzstd(raw: Readable) -> Iterator[bytes]:
    import zstandard  # only needed for zstd layers
    reader = zstandard.ZstdDecompressor().stream_reader(
        raw, read_size=READ_SIZE)  # type: ignore[arg-type]  # stub asks IO[bytes]; only read() is called
    while True:
        out = reader.read(CHUNK_SIZE)
        if not out:
            return
        yield out


class Member:
    """One tar member as the cataloger needs it."""

    __slots__ = ("name", "kind", "linkname", "size", "mode", "consumed")

    def __init__(self, name: str, kind: str, linkname: str, size: int, mode: int = 0o644) -> None:
        self.name, self.kind, self.linkname, self.size, self.mode = name, kind, linkname, size, mode
        self.consumed = 0


class _Cursor:
    """A read position over an iterator of chunks; skipping never copies."""

    def __init__(self, source: Iterator[bytes]) -> None:
        self.source, self.cur, self.pos = source, b"", 0

    def read(self, n: int) -> bytes:
        """Up to *n* bytes (fewer only at the end of the data)."""
        end = self.pos + n
        if end <= len(self.cur):
            out = self.cur[self.pos:end]
            self.pos = end
            return out
        parts = [self.cur[self.pos:]]
        need = n - len(parts[0])
        self.cur, self.pos = b"", 0
        while need > 0:
            chunk = next(self.source, None)
            if chunk is None:
                break
            if len(chunk) >= need:
                parts.append(chunk[:need])
                self.cur, self.pos = chunk, need
                break
            parts.append(chunk)
            need -= len(chunk)
        return b"".join(parts)

    def skip(self, n: int) -> bool:
        """Skip *n* bytes; False if the data ends first."""
        self.pos += n
        while self.pos > len(self.cur):
            self.pos -= len(self.cur)
            chunk = next(self.source, None)
            if chunk is None:
                self.cur, self.pos = b"", 0
                return False
            self.cur = chunk
        return True


def _nts(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode(_ENCODING, _ERRORS)


def _header(block: bytes) -> tuple[str, bytes, str, int, int]:
    """(name, type, linkname, size, mode) as ``TarInfo.frombuf`` gives them.

    Raises:
        tarfile.HeaderError: as ``frombuf`` (empty, truncated, zero, bad checksum, ...).
    """
    if len(block) == BLOCK and block[148:156] != b"\0" * 8:
        fields_ok = all(_NUMBER.fullmatch(block, a, b) for a, b in _NUMBER_FIELDS)
        chk = block[148:156]
        if fields_ok and _NUMBER.fullmatch(chk) and \
                int(chk.split(b"\0", 1)[0].strip() or b"0", 8) == sum(block) - sum(chk) + 256:
            kind = block[156:157]
            name = _nts(block[0:100])
            if kind == _AREGTYPE and name.endswith("/"):
                kind = _DIRTYPE
            if kind == _DIRTYPE:
                name = name.rstrip("/")
            prefix = _nts(block[345:500])
            if prefix and kind not in (*_LONG, tarfile.GNUTYPE_SPARSE):
                name = prefix + "/" + name
            size = int(block[124:136].split(b"\0", 1)[0].strip() or b"0", 8)
            mode = int(block[100:108].split(b"\0", 1)[0].strip() or b"0", 8)
            return name, kind, _nts(block[157:257]), size, mode
    info = tarfile.TarInfo.frombuf(block, _ENCODING, _ERRORS)  # exact answer, or its error
    if info.type == tarfile.GNUTYPE_SPARSE:
        raise Unsupported("GNU sparse member")
    return info.name, info.type, info.linkname, info.size, info.mode


def _pax(buf: bytes) -> dict[str, str]:
    """pax records, parsed as ``TarInfo._proc_pax`` does (without hdrcharset)."""
    if re.search(rb"\d+ hdrcharset=([^\n]+)\n", buf):
        raise Unsupported("pax hdrcharset")
    out: dict[str, str] = {}
    pos = 0
    while True:
        match = _PAX_RECORD.match(buf, pos)
        if not match:
            return out
        length = int(match.group(1))
        if length == 0:
            raise _InvalidHeaderError("invalid header")
        keyword = match.group(2).decode("utf-8", _ERRORS)
        if keyword.startswith("GNU.sparse"):
            raise Unsupported("GNU sparse pax records")
        out[keyword] = buf[match.end(2) + 1:match.start(1) + length - 1].decode("utf-8", _ERRORS)
        pos += length


def _padded(size: int) -> int:
    return -(-size // BLOCK) * BLOCK if size > 0 else 0


class TarScanner:
    """The members of the tar in a chunk source; ``read_some`` reads the current one.

    Iterating raises:
        TarReadError: the first header is bad, a long-name/pax header is not followed by
            a header, or member data is cut short.
        LayerLimitError: a long-name or pax header over *max_extension* bytes.
        Unsupported: see the module docstring.
    """

    def __init__(self, source: Iterator[bytes], max_extension: int, where: str) -> None:
        self.cursor = _Cursor(source)
        self.max_extension, self.where = max_extension, where

    def read_some(self, member: Member, n: int) -> bytes:
        """The next bytes (at most *n*) of the member just yielded; what is left unread
        is skipped when iteration moves on."""
        want = min(n, member.size - member.consumed)
        data = self.cursor.read(want)
        member.consumed += len(data)
        if len(data) != want:
            raise TarReadError("unexpected end of data")
        return data

    def __iter__(self) -> Iterator[Member]:
        first = True
        while True:
            found = self._next(first)
            if found is None:
                return
            member, data_size = found
            first = False
            yield member
            if not self.cursor.skip(data_size - member.consumed):
                raise TarReadError("unexpected end of data")

    def _extension(self, kind: bytes, size: int) -> tuple[bytes, str | dict[str, str]]:
        if size > self.max_extension:
            raise LayerLimitError(f"{self.where}: a {kind.decode('latin-1')!r} header of {size} "
                                  f"bytes, limit {self.max_extension}", entry=self.where)
        data = self.cursor.read(_padded(size))
        if kind in _LONG:
            return kind, _nts(data)
        records = _pax(data)
        if kind == tarfile.XGLTYPE and any(
                k in ("path", "linkpath", "size") or k.startswith("GNU.sparse") for k in records):
            raise Unsupported("global pax record changing a path or size")
        return kind, records

    def _next(self, first: bool) -> tuple[Member, int] | None:
        pending: list[tuple[bytes, str | dict[str, str]]] = []   # extension headers, outermost first
        while True:
            block = self.cursor.read(BLOCK)
            try:
                name, kind, linkname, size, mode = _header(block)
            except tarfile.HeaderError as exc:
                if pending:
                    raise TarReadError(str(exc)) from None
                if first and not isinstance(exc, _EOFHeaderError):
                    raise TarReadError("empty file" if not block else str(exc)) from None
                return None                              # tarfile's end of the archive
            if kind not in _LONG and kind not in _PAX and kind != tarfile.XGLTYPE:
                break
            if len(pending) >= _MAX_CHAIN:
                raise TarReadError(f"more than {_MAX_CHAIN} extension headers in a row")
            pending.append(self._extension(kind, size))
        if size < 0:
            raise TarReadError(f"negative size in the header of {name!r}")
        stored, resize = size, False
        for ext_kind, payload in reversed(pending):      # innermost first, as tarfile unwinds
            if ext_kind == tarfile.GNUTYPE_LONGNAME:
                name = str(payload)
                if kind == _DIRTYPE:
                    name = name.removesuffix("/")
            elif ext_kind == tarfile.GNUTYPE_LONGLINK:
                linkname = str(payload)
            elif ext_kind in _PAX and isinstance(payload, dict):   # pax payloads are always records
                records = payload
                if "path" in records:
                    name = records["path"].rstrip("/")
                if "linkpath" in records:
                    linkname = records["linkpath"]
                if "size" in records:
                    try:
                        size = int(records["size"])
                    except ValueError:
                        size = 0
                    resize = True
        if size < 0:
            raise TarReadError(f"negative size in the pax header of {name!r}")
        has_data = kind in _REGULAR or kind not in _SUPPORTED
        data_size = _padded(size if resize else stored) if has_data else 0
        member = Member(name, "file" if kind in _REGULAR else _KIND.get(kind, "other"),
                        linkname, size, mode)
        return member, data_size
