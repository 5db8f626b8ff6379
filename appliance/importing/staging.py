"""The staging sink: new blobs of one import go to ``staging/<import-id>/blobs/<hex>``.

Blobs already in the content store, or already staged by this import (two paths with
the same content), are not written again: ``open`` returns None and the reader only
hashes them. A file that failed its digest is deleted.

Speed (bench/import.py, docs/appliance.md "Import performance"): the reader thread only
queues chunks — read-only views of the decompressor's immutable ``bytes``, never
copied — and one writer thread writes them. On Linux it gathers them in one aligned
4 MiB buffer and writes that with ``O_DIRECT`` (straight to the device, no page-cache
copy and writeback; the last partial 4 KiB block of a file goes through the page
cache). Where the file system refuses ``O_DIRECT`` it writes through the page cache and
asks the kernel to start writeback right away (``sync_file_range`` with
``SYNC_FILE_RANGE_WRITE``; it does not wait). Either way the disk works while the kit is
still being decompressed and hashed instead of all at the end. Durability is still
established the only reliable way, per file: a third thread ``fdatasync``s each staged
file as soon as it is closed (its pages are mostly on their way already), and
:meth:`StagingSink.finish` waits for all of them and raises the first error; the
importer then fsyncs the directories and only then commits.
"""

from __future__ import annotations

import errno
import fcntl
import mmap
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Literal

from appliance import testhooks
from appliance.store.blobs import BlobStore
from kit.format.manifest import Entry

RECORD_FILE = "record.dsse.json"


def _writeback_starter() -> Callable[[int, int, int], object] | None:
    """``sync_file_range(fd, offset, n, SYNC_FILE_RANGE_WRITE)`` through libc, or None off Linux.

    Only a hint that starts writeback early; correctness never depends on it.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        fn = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    fn.restype = ctypes.c_int
    write_only = 2                          # SYNC_FILE_RANGE_WRITE: start writeback, do not wait
    return lambda fd, offset, n: fn(fd, offset, n, write_only)


class _Blob:
    """One staged file: its path and, once the writer thread created it, descriptor and size so far."""

    __slots__ = ("fd", "path", "offset", "direct")

    def __init__(self, path: Path):
        self.fd, self.path, self.offset, self.direct = -1, path, 0, False


_CREATE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
_O_DIRECT = getattr(os, "O_DIRECT", 0)
_ALIGN = 4096                 # O_DIRECT offsets, lengths and buffer addresses: multiples of this
_BOUNCE = 4 << 20             # the aligned buffer chunks are gathered in (page-aligned: mmap)


# ("write", blob, chunk) | ("close", blob, keep); None stops the writer
_Job = tuple[Literal["write"], _Blob, memoryview] | tuple[Literal["close"], _Blob, bool]


class _Writer:
    """Writes and closes staged files on one background thread, fdatasyncs them on another.

    The bounded queue keeps memory flat (at most ``depth`` chunks in flight) and makes the
    reader wait when the disk is the slower side. A kept (verified) file goes to the
    syncer thread as soon as it is closed, so the flush of each file overlaps with the
    streaming of the next ones; :meth:`finish` waits for both threads.
    """

    def __init__(self, depth: int = 32, direct: bool = True) -> None:
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=depth)
        self._to_sync: queue.SimpleQueue[Path | None] = queue.SimpleQueue()
        self._error: OSError | None = None
        self._durable = True                # False: the import failed, stop syncing
        self._writeback = _writeback_starter()
        # O_DIRECT (Linux): the data goes from one aligned buffer straight to the device,
        # without being copied into the page cache and written back from there — a third
        # of the CPU the buffered path costs. Falls back to buffered writes (with early
        # writeback) when the file system refuses O_DIRECT.
        self._direct = bool(_O_DIRECT) and direct
        self._bounce = memoryview(mmap.mmap(-1, _BOUNCE)) if self._direct else memoryview(b"")
        self._owner: _Blob | None = None      # whose bytes the bounce buffer holds
        self._filled = 0
        self._thread = threading.Thread(target=self._run, name="stella-stage-writer", daemon=True)
        self._syncer = threading.Thread(target=self._sync, name="stella-stage-syncer", daemon=True)
        self._thread.start()
        self._syncer.start()

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            blob = job[1]
            try:
                if job[0] == "write":             # indexed, not unpacked: mypy narrows the tuple by its tag
                    if self._error is None:
                        self._write(blob, job[2])
                else:
                    self._close(blob, keep=job[2] is True)
            except OSError as exc:
                self._failed(exc, blob.path)
        self._to_sync.put(None)

    def _create(self, blob: _Blob) -> int:
        """Create the file (here, not on the hashing thread: a create can wait for a journal commit)."""
        if blob.fd < 0:
            if self._direct:
                try:
                    blob.fd = os.open(blob.path, _CREATE | _O_DIRECT, 0o644)
                    blob.direct = True
                    return blob.fd
                except OSError as exc:
                    if exc.errno != errno.EINVAL:
                        raise
                    self._direct = False        # this file system does not do O_DIRECT
            blob.fd = os.open(blob.path, _CREATE, 0o644)
        return blob.fd

    def _write(self, blob: _Blob, chunk: memoryview) -> None:
        self._create(blob)
        if not blob.direct:
            self._plain_write(blob, chunk)
            return
        if self._owner is not blob:
            self._drain()
            self._owner = blob
        view, bounce = chunk, self._bounce
        while view:
            n = min(_BOUNCE - self._filled, len(view))
            bounce[self._filled:self._filled + n] = view[:n]
            self._filled += n
            view = view[n:]
            if self._filled == _BOUNCE:
                self._filled = 0
                self._direct_write(blob, bounce)

    def _direct_write(self, blob: _Blob, view: memoryview) -> None:
        """One aligned write that bypasses the page cache; a short or refused one finishes buffered."""
        try:
            n = os.write(blob.fd, view)
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
            self._direct, n = False, 0          # opened, but this file system will not do it
        blob.offset += n
        if n < len(view):
            self._to_buffered(blob)
            self._plain_write(blob, view[n:])

    def _drain(self) -> None:
        """Write what the bounce buffer holds for its file: the aligned part directly, the
        tail (under 4 KiB, only at the end of a file) through the page cache."""
        blob, filled = self._owner, self._filled
        self._owner, self._filled = None, 0
        if blob is None or not filled:
            return
        aligned = filled - filled % _ALIGN
        if aligned:
            self._direct_write(blob, self._bounce[:aligned])
        if aligned < filled:
            self._to_buffered(blob)
            self._plain_write(blob, self._bounce[aligned:filled])

    @staticmethod
    def _to_buffered(blob: _Blob) -> None:
        if blob.direct:
            fcntl.fcntl(blob.fd, fcntl.F_SETFL, fcntl.fcntl(blob.fd, fcntl.F_GETFL) & ~_O_DIRECT)
            blob.direct = False

    def _plain_write(self, blob: _Blob, chunk: memoryview) -> None:
        start, view = blob.offset, chunk
        while view:
            n = os.write(blob.fd, view)
            view = view[n:]
        blob.offset = start + len(chunk)
        if self._writeback is not None:
            self._writeback(blob.fd, start, len(chunk))

    def _close(self, blob: _Blob, keep: bool) -> None:
        try:
            if self._owner is blob:
                if keep and self._error is None:
                    self._drain()
                self._owner, self._filled = None, 0
        finally:
            os.close(self._create(blob))
        if keep:
            self._to_sync.put(blob.path)
        else:
            os.unlink(blob.path)

    def _sync(self) -> None:
        while (path := self._to_sync.get()) is not None:
            if self._error is not None or not self._durable:
                continue
            try:
                fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
                try:
                    os.fdatasync(fd)
                finally:
                    os.close(fd)
            except OSError as exc:
                self._failed(exc, path)

    def _failed(self, exc: OSError, path: Path) -> None:
        """Keep the first error, naming the staged file (the message the operator sees)."""
        if exc.filename is None:
            exc.filename = str(path)
        self._error = self._error or exc

    def write(self, blob: _Blob, chunk: memoryview) -> None:
        self.check()
        self._queue.put(("write", blob, chunk))

    def check(self) -> None:
        """Raise the first write or sync error now: no point streaming the rest of the kit.

        (The reader reports it as a read error; :meth:`finish`, which the importer calls
        first, raises it again with the staged file's name.)
        """
        if self._error is not None:
            raise self._error

    def close(self, blob: _Blob, keep: bool) -> None:
        """Close (keep, then fdatasync), or close and delete (a blob that failed its digest)."""
        self._queue.put(("close", blob, keep))

    def finish(self, durable: bool = True) -> None:
        """Wait until every kept file is written and fdatasync'd (raises the first OSError).

        ``durable=False`` stops syncing (the staged files are about to be deleted).
        """
        if not durable:
            self._durable = False
        self._queue.put(None)
        self._thread.join()
        self._syncer.join()
        if self._error is not None:
            raise self._error


class _StagedBlob:
    def __init__(self, sink: StagingSink, hexdigest: str, blob: _Blob):
        self._sink, self._hex, self._blob = sink, hexdigest, blob

    def write(self, chunk: memoryview) -> None:
        self._sink.writer.write(self._blob, chunk)

    def close(self, verified: bool) -> None:
        self._sink.closed(self._hex, self._blob, verified)


class StagingSink:
    """An EntrySink writing new content under *directory* (``staging/<import-id>``)."""

    def __init__(self, directory: Path, store: BlobStore, expected: Iterable[str] = ()):
        self.directory = directory
        self.blob_dir = directory / "blobs"
        self.store = store
        self.staged: dict[str, int] = {}      # hex -> size, verified and written
        self.bytes_written = 0
        self._pending: set[str] = set()
        self.writer = _Writer()
        self._count = 0
        self._sizes: dict[str, int] = {}
        # which of the expected digests the store already holds, looked up now, before the
        # reader's threads start (a stat per entry during streaming waits for the GIL)
        self._expected = set(expected)
        self._present = {h for h in self._expected if store.has(h)}

    def open(self, entry: Entry) -> _StagedBlob | None:
        self.writer.check()
        hexdigest = entry.sha256
        if hexdigest in self.staged or hexdigest in self._pending or hexdigest in self._present:
            return None
        if hexdigest not in self._expected and self.store.has(hexdigest):
            return None
        self._pending.add(hexdigest)
        self._sizes[hexdigest] = entry.size
        return _StagedBlob(self, hexdigest, _Blob(self.blob_dir / hexdigest))

    def closed(self, hexdigest: str, blob: _Blob, verified: bool) -> None:
        self._pending.discard(hexdigest)
        self.writer.close(blob, verified)
        if not verified:
            return
        size = self._sizes[hexdigest]
        self.staged[hexdigest] = size
        self.bytes_written += size
        self._count += 1
        testhooks.pause(f"staged:{self._count}")

    def finish(self, durable: bool = True) -> None:
        """Wait for every write, then make every staged file durable (raises the first OSError).

        ``durable=False`` (the kit was refused; the folder is about to be deleted) skips the syncs.
        """
        self.writer.finish(durable)

    def locate(self, hexdigest: str) -> Path:
        """Where the bytes of *hexdigest* are now: staged by this import, or in the store."""
        return self.blob_dir / hexdigest if hexdigest in self.staged else self.store.path(hexdigest)


def create(directory: Path, store: BlobStore, expected: Iterable[str] = ()) -> StagingSink:
    """A sink staging under *directory*; *expected*: the digests the kit will carry (a hint)."""
    (directory / "blobs").mkdir(parents=True)
    return StagingSink(directory, store, expected)
