"""zstd settings and the threaded decompressing reader.

Compressed bytes depend on the libzstd version and on single- vs multi-threaded mode
(not on the worker count), so the writer always uses multi-threaded mode with two
workers and ``zstandard`` is pinned exactly. Identity never depends on these bytes.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import IO, BinaryIO, Protocol, cast

import zstandard

from kit.errors import Corrupt, KitLimitError, KitVerificationError, TrailingGarbage, Truncated
from kit.format.zstdframe import WalkingReader

LEVEL = 3
THREADS = 2
CHUNK = 1 << 20
# Feeding the multi-threaded compressor 4 MiB at a time keeps both workers busy while the
# caller hashes; with 1 MiB pieces the build ran 25 % slower on two cores (bench/kit_throughput.py).
WRITE_CHUNK = 4 << 20
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def compressor() -> zstandard.ZstdCompressor:
    return zstandard.ZstdCompressor(level=LEVEL, threads=THREADS, write_checksum=True,
                                    write_content_size=False)


class ByteSource(Protocol):
    """What zstandard's stream reader calls on its source."""

    def read(self, n: int = -1, /) -> bytes: ...


class ByteSink(Protocol):
    """What zstandard's stream writer calls on its sink."""

    def write(self, data: bytes | memoryview, /) -> int: ...

    def flush(self) -> None: ...


# zstandard's stubs ask for a full IO[bytes]; its C code calls only read() or write() and
# flush(), so the hashing and frame-walking wrappers are handed over at these two points.
def stream_writer(sink: ByteSink) -> zstandard.ZstdCompressionWriter:
    """The kit's compressor writing into *sink* (left open at the end)."""
    return compressor().stream_writer(cast(IO[bytes], sink), closefd=False)


def _stream_reader(dctx: zstandard.ZstdDecompressor, source: ByteSource) -> zstandard.ZstdDecompressionReader:
    return dctx.stream_reader(cast(IO[bytes], source), read_size=CHUNK, read_across_frames=True, closefd=False)


class DecompressError(KitVerificationError):
    """The compressed stream is damaged (raised in the consumer, in stream order).

    One of ``CorruptStream`` (bad data), ``TruncatedStream`` (the frame stops early) or
    ``GarbageAfterStream`` (bytes after the frame); each is also the kit kind it reports.
    """


class CorruptStream(DecompressError, Corrupt):
    """The compressed stream is damaged."""


class TruncatedStream(DecompressError, Truncated):
    """The compressed stream ends before its frame does."""


class GarbageAfterStream(DecompressError, TrailingGarbage):
    """Bytes follow the kit's zstd frame."""


class WindowTooLarge(DecompressError, KitLimitError):
    """The frame asks for a larger decoding window than ``KitLimits.max_window_size``."""


class _End:
    pass


class DecompressedStream:
    """Decompress on a background thread, hand 1 MiB chunks to the consumer in order.

    zstd and hashlib both release the GIL, so decompressing here while the consumer
    hashes gives two cores' worth of work, like ``zstd -dc | openssl dgst``. The queue
    is bounded, so memory stays at a few MiB whatever the kit holds.
    """

    def __init__(self, fh: BinaryIO, max_window_size: int, depth: int = 8):
        self._queue: queue.Queue[bytes | Exception | _End] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._max_window = max_window_size
        self._buf = memoryview(b"")
        self._eof = False
        self.consumed = 0
        dctx = zstandard.ZstdDecompressor(max_window_size=max_window_size)
        self._source = WalkingReader(fh)
        self._reader = _stream_reader(dctx, self._source)
        self._thread = threading.Thread(target=self._run, name="kit-decompress", daemon=True)
        self._thread.start()

    def _put(self, item: bytes | Exception | _End) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        walker = self._source.walker
        try:
            while not self._stop.is_set():
                chunk = self._reader.read(CHUNK)
                if not chunk:
                    self._put(self._end_state())
                    return
                if not self._put(chunk):
                    return
        except zstandard.ZstdError as exc:
            if walker.trailing:
                self._put(GarbageAfterStream("bytes after the end of the kit's zstd frame"))
            elif walker.window_size > self._max_window:
                self._put(WindowTooLarge(f"the zstd frame asks for a {walker.window_size}-byte decoding window, "
                                         f"over the limit of {self._max_window} (max_window_size)"))
            else:
                self._put(CorruptStream(f"corrupt compressed data: {exc}"))
        except OSError as exc:
            self._put(exc)

    def _end_state(self) -> Exception | _End:
        walker = self._source.walker
        if walker.trailing:
            return GarbageAfterStream("bytes after the end of the kit's zstd frame")
        if walker.malformed:
            return CorruptStream("corrupt zstd frame structure")
        if not walker.complete:
            return TruncatedStream("the compressed stream ends before its frame does")
        return _End()

    def _fill(self) -> bool:
        if self._eof:
            return False
        item = self._queue.get()
        if isinstance(item, _End):
            self._eof = True
            return False
        if isinstance(item, Exception):
            self._eof = True
            raise item
        self._buf = memoryview(item)
        return True

    def read(self, n: int) -> bytes:
        """Up to *n* bytes; fewer only at the end of the stream."""
        parts = []
        while n > 0:
            if not self._buf and not self._fill():
                break
            piece = self._buf[:n]
            self._buf = self._buf[len(piece):]
            parts.append(bytes(piece))
            n -= len(piece)
            self.consumed += len(piece)
        return b"".join(parts)

    def chunks(self, n: int) -> Iterator[memoryview]:
        """Exactly *n* bytes as a sequence of views; stops short only at end of stream."""
        while n > 0:
            if not self._buf and not self._fill():
                return
            piece = self._buf[:n]
            self._buf = self._buf[len(piece):]
            n -= len(piece)
            self.consumed += len(piece)
            yield piece

    def close(self) -> None:
        self._stop.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout=5)
