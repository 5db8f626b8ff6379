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
from typing import Protocol, runtime_checkable

Read = Callable[[int], bytes]                      # the next bytes of a file, at most n
Excerpt = Callable[[Read, int], "bytes | None"]     # (read, size) -> the kept excerpt, or None

STEP = 4 << 20                     # bytes looked at per piece
_SHARED_LIBRARY = re.compile(r"\.so(?:\.\d+)*$")
_EXECUTABLE = 0o111


@runtime_checkable
class ContentProbe(Protocol):
    """Decides which files to look into, and how (the layer reader calls it per file)."""

    def reader(self, path: str, mode: int, size: int) -> Excerpt | None:
        """The function that makes the kept excerpt of this file, or None to pass it by."""
        ...


class TapScan(Protocol):
    """One file's bytes pushed to a tap as another probe reads them."""

    def feed(self, data: bytes) -> bool:
        """Look at the next bytes; False when nothing more is wanted from this file."""
        ...

    def result(self) -> bytes | None:
        """The kept excerpt, once the file has ended (or the scan said it was done)."""
        ...


@runtime_checkable
class Tap(Protocol):
    """A probe that watches the bytes another probe reads, so several look into one file
    read once (a Rust binary's audit data and a Go binary's build info are both in ELF
    executables)."""

    def wants(self, path: str, mode: int, size: int) -> bool: ...

    def start(self) -> TapScan: ...


@dataclass(frozen=True)
class Probes:
    """Several probes as one: the first of *readers* that wants a file reads it, and every
    tap that wants it sees the same bytes (the rest of the file is read for the taps only
    while one still wants more). The reader's excerpt wins; else the first tap's."""

    readers: tuple[ContentProbe, ...]
    taps: tuple[Tap, ...] = ()

    def reader(self, path: str, mode: int, size: int) -> Excerpt | None:
        lead = next((r for p in self.readers if (r := p.reader(path, mode, size)) is not None), None)
        taps = [t for t in self.taps if t.wants(path, mode, size)]
        if not taps:
            return lead

        def excerpt(read: Read, size: int) -> bytes | None:
            scans = [t.start() for t in taps]
            active, consumed = list(scans), 0

            def tee(n: int) -> bytes:
                nonlocal consumed
                data = read(n)
                consumed += len(data)
                for scan in list(active):
                    if not scan.feed(data):
                        active.remove(scan)
                return data
            if lead is not None:
                got = lead(tee, size)
                if got is not None:
                    return got
            while active and consumed < size:
                if not tee(min(STEP, size - consumed)):
                    break
            return next((r for s in scans if (r := s.result()) is not None), None)
        return excerpt


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

    def reader(self, path: str, mode: int, size: int) -> Excerpt | None:
        """:meth:`excerpt` for the files it :meth:`wants`."""
        return self.excerpt if self.wants(path, mode, size) else None

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
