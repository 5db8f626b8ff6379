"""Walk the structure of one zstd frame (RFC 8878) as its compressed bytes stream past.

python-zstandard returns what it has when a frame is cut short and skips skippable
frames silently, so by itself it cannot tell a whole kit from a truncated one, or a
kit from a kit with bytes appended. A kit is exactly one zstd frame; this walker follows
its headers and block sizes (without decompressing) and reports whether the frame ended
and whether anything followed it.
"""

from __future__ import annotations

from typing import BinaryIO

MAGIC = b"\x28\xb5\x2f\xfd"
_FCS_SIZES = (0, 2, 4, 8)
_DID_SIZES = (0, 1, 2, 4)


class FrameWalker:
    """Feed compressed bytes in order; then ask :attr:`complete` and :attr:`trailing`."""

    def __init__(self) -> None:
        self._state = "magic"
        self._want = 4          # bytes to collect (header states) or skip (body states)
        self._buf = bytearray()
        self._checksum = False
        self._last = False
        self._single, self._fcs = False, 0
        self.complete = False
        self.trailing = False
        self.malformed = False
        self.window_size = 0    # what the frame header asks the decoder to allocate

    def feed(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view and not (self.trailing or self.malformed):
            if self._state == "done":
                self.trailing = True
                return
            if self._state in ("skip", "checksum"):
                n = min(self._want, len(view))
                self._want -= n
                view = view[n:]
                if self._want == 0:
                    self._after_skip()
                continue
            n = min(self._want - len(self._buf), len(view))
            self._buf += view[:n]
            view = view[n:]
            if len(self._buf) == self._want:
                self._parse(bytes(self._buf))
                self._buf.clear()

    def _after_skip(self) -> None:
        """A block body (or the checksum) has been skipped: what comes next."""
        if self._state == "checksum" or (self._last and not self._checksum):
            self._state, self.complete = "done", True
        elif self._last:
            self._state, self._want = "checksum", 4
        else:
            self._state, self._want = "block", 3

    def _parse(self, head: bytes) -> None:
        if self._state == "magic":
            if head != MAGIC:
                self.malformed = True
                return
            self._state, self._want = "fhd", 1
        elif self._state == "fhd":
            fhd = head[0]
            single = bool(fhd & 0x20)
            fcs = _FCS_SIZES[fhd >> 6] if (fhd >> 6) or not single else 1
            if fhd & 0x08:                  # reserved bit must be zero
                self.malformed = True
                return
            self._checksum = bool(fhd & 0x04)
            self._single, self._fcs = single, fcs
            rest = (0 if single else 1) + _DID_SIZES[fhd & 0x03] + fcs
            self._state, self._want = ("rest", rest) if rest else ("block", 3)
        elif self._state == "rest":
            self.window_size = _window_size(head, self._single, self._fcs)
            self._state, self._want = "block", 3
        elif self._state == "block":
            value = int.from_bytes(head, "little")
            self._last = bool(value & 1)
            block_type, size = (value >> 1) & 3, value >> 3
            if block_type == 3:
                self.malformed = True
                return
            body = 1 if block_type == 1 else size
            self._state, self._want = "skip", body
            if body == 0:
                self._after_skip()


def _window_size(rest: bytes, single: bool, fcs: int) -> int:
    """The window a frame declares (RFC 8878 3.1.1.1.2): its descriptor, or a single segment's content size."""
    if not single:
        exponent, mantissa = rest[0] >> 3, rest[0] & 7
        base = 1 << (10 + exponent)
        return base + (base >> 3) * mantissa
    size = int.from_bytes(rest[len(rest) - fcs:], "little")
    return size + 256 if fcs == 2 else size


class WalkingReader:
    """A read-only file object that feeds what it reads to a :class:`FrameWalker`."""

    def __init__(self, fh: BinaryIO):
        self._fh = fh
        self.walker = FrameWalker()

    def read(self, n: int = -1) -> bytes:
        data = self._fh.read(n)
        self.walker.feed(data)
        return data
