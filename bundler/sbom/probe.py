"""Files found by content: keep a small excerpt of an executable, never the executable.

Most catalogers want files by path (a package database) and keep them whole. A Go binary
can be anywhere and weigh 100 MB, and what the cataloger needs is a few kilobytes inside
it. A :class:`Probe` names which files to look into (executable, not a shared library,
starting with ``head``) and what to keep: the bytes from the first ``magic`` at an
``align``-ed offset that ``measure`` finds a record in (looking at most ``window`` bytes),
as many as it says the record takes. The content streams past in pieces;
only a piece and the excerpt are held at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

STEP = 4 << 20                     # bytes looked at per piece
_SHARED_LIBRARY = re.compile(r"\.so(?:\.\d+)*$")
_EXECUTABLE = 0o111


@dataclass(frozen=True)
class Probe:
    head: bytes
    magic: bytes
    window: int
    align: int
    measure: Callable[[bytes], int | None]     # bytes the record at the start takes, or None

    def wants(self, path: str, mode: int, size: int) -> bool:
        """Worth looking into: executable, big enough, not a shared library."""
        return bool(mode & _EXECUTABLE) and size >= len(self.head) + len(self.magic) \
            and not _SHARED_LIBRARY.search(path)

    def excerpt(self, read: Callable[[int], bytes], size: int) -> bytes | None:
        """The kept excerpt of a file of *size* bytes whose content *read(n)* streams.

        *read(n)* returns the next bytes, at most *n*; the caller skips whatever is left
        unread. Returns None when the file does not start with ``head`` or holds no
        accepted excerpt.
        """
        buf = read(min(len(self.head), size))
        consumed = len(buf)
        if buf != self.head:
            return None
        base, start, keep = 0, 0, len(self.magic) - 1   # base: file offset of buf[0]
        while True:
            at = buf.find(self.magic, start)
            while at >= 0 and (base + at) % self.align:
                at = buf.find(self.magic, at + 1)
            if at >= 0:
                short = at + self.window - len(buf)
                if short > 0 and consumed < size:
                    more = _read_full(read, min(short, size - consumed))
                    consumed += len(more)
                    buf += more
                used = self.measure(buf[at:at + self.window])
                if used is not None:
                    return buf[at:at + used]
                start = at + 1
                continue
            if consumed >= size:
                return None
            piece = _read_full(read, min(STEP, size - consumed))
            consumed += len(piece)
            tail = buf[-keep:] if keep else b""
            if tail and self.magic in tail + piece[:keep]:
                base, buf = base + len(buf) - len(tail), tail + piece
            else:
                base, buf = base + len(buf), piece
            start = 0


def _read_full(read: Callable[[int], bytes], n: int) -> bytes:
    parts, need = [], n
    while need > 0:
        data = read(need)
        if not data:
            break
        parts.append(data)
        need -= len(data)
    return b"".join(parts) if len(parts) != 1 else parts[0]
