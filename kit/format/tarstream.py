"""The kit's tar dialect: POSIX ustar headers with pax records only when needed.

Headers are canonical: every field is a function of (path, size, mtime), so the whole
uncompressed stream is determined by the signed manifest and the entries' bytes. The
writer and the reader share :func:`encode_header`; the reader rebuilds the header it
expects and compares bytes, so no unsigned header field can carry a surprise.
"""

from __future__ import annotations

from dataclasses import dataclass

BLOCK = 512
END_OF_ARCHIVE = bytes(2 * BLOCK)
_USTAR_MAX_SIZE = 0o77777777777          # 11 octal digits: 8 GiB - 1
_PAX_NAME = b"././@PaxHeader"

TYPE_NAMES = {
    b"0": "regular file", b"\0": "regular file", b"1": "hard link", b"2": "symbolic link",
    b"3": "character device", b"4": "block device", b"5": "directory", b"6": "FIFO",
    b"7": "contiguous file", b"x": "pax header", b"g": "pax global header",
    b"L": "GNU long name", b"K": "GNU long link name",
}


def padding(size: int) -> int:
    """Bytes of zero padding after *size* bytes of content."""
    return -size % BLOCK


def _octal(value: int, width: int) -> bytes:
    return b"%0*o\0" % (width - 1, value)


def _ustar(name: bytes, size: int, mtime: int, typeflag: bytes) -> bytes:
    header = bytearray(BLOCK)
    header[0:len(name)] = name
    header[100:108] = _octal(0o644, 8)
    header[108:116] = _octal(0, 8)
    header[116:124] = _octal(0, 8)
    header[124:136] = _octal(size, 12)
    header[136:148] = _octal(mtime, 12)
    header[148:156] = b" " * 8
    header[156:157] = typeflag
    header[257:263] = b"ustar\0"
    header[263:265] = b"00"
    header[329:337] = _octal(0, 8)
    header[337:345] = _octal(0, 8)
    header[148:156] = b"%06o\0 " % sum(header)
    return bytes(header)


def _pax_record(key: str, value: str) -> bytes:
    body = f" {key}={value}\n".encode()
    length = len(body) + 1
    while len(str(length)) + len(body) != length:
        length += 1
    return str(length).encode("ascii") + body


def encode_header(path: str, size: int, mtime: int) -> bytes:
    """The canonical header block(s) for a regular file entry.

    A pax extended header precedes the ustar block when the path is over 100 bytes or
    the size needs more than 11 octal digits.
    """
    name = path.encode("utf-8")
    records = b""
    if len(name) > 100:
        records += _pax_record("path", path)
    if size > _USTAR_MAX_SIZE:
        records += _pax_record("size", str(size))
    if not records:
        return _ustar(name, size, mtime, b"0")
    pax = _ustar(_PAX_NAME, len(records), mtime, b"x") + records + bytes(padding(len(records)))
    return pax + _ustar(name[:100], 0 if size > _USTAR_MAX_SIZE else size, mtime, b"0")


class TarHeaderError(ValueError):
    """A header block that cannot be parsed at all (bad checksum, bad number field)."""


class NegativeNumber(TarHeaderError):
    """A size or other number field is negative (GNU base-256 with the sign bit, or a pax ``-N``)."""


@dataclass(frozen=True)
class RawHeader:
    typeflag: bytes
    path: str
    size: int


def _number(field: bytes) -> int:
    if field and field[0] & 0x80:                       # GNU base-256; 0xff starts a negative number
        if field[0] == 0xFF:
            raise NegativeNumber("a negative number in a header field (base-256 with the sign bit)")
        return int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
    text = field.rstrip(b"\0 ").lstrip(b" ")
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise TarHeaderError(f"bad number field {field!r}") from None


def is_zero_block(block: bytes) -> bool:
    return block.count(0) == len(block)


def parse_header(block: bytes) -> RawHeader:
    """Parse one 512-byte header block; checks the checksum.

    Raises:
        TarHeaderError: the checksum does not match or a numeric field is garbage.
    """
    if len(block) != BLOCK:
        raise TarHeaderError("short header block")
    stored = _number(block[148:156])
    if stored != sum(block[:148]) + 8 * 32 + sum(block[156:]):
        raise TarHeaderError("header checksum mismatch")
    name = block[0:100].split(b"\0", 1)[0]
    if block[257:262] == b"ustar":
        prefix = block[345:500].split(b"\0", 1)[0]
        if prefix:
            name = prefix + b"/" + name
    return RawHeader(block[156:157], name.decode("utf-8", "replace"), _number(block[124:136]))


def parse_pax(data: bytes) -> dict[str, str]:
    """Parse pax extended header records (``LEN key=value\\n``).

    Raises:
        TarHeaderError: a record is malformed.
    """
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0 or not data[pos:space].isdigit():
            raise TarHeaderError("malformed pax record")
        length = int(data[pos:space])
        record = data[pos:pos + length]
        if length <= space - pos + 1 or len(record) != length or not record.endswith(b"\n") or b"=" not in record:
            raise TarHeaderError("malformed pax record")
        key, _, value = record[space - pos + 1:-1].partition(b"=")
        out[key.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
        pos += length
    return out
