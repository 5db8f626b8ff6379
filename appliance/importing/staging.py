"""The staging sink: new blobs of one import go to ``staging/<import-id>/blobs/<hex>``.

Blobs already in the content store, or already staged by this import (two paths with
the same content), are not written again: ``open`` returns None and the reader only
hashes them. Writing, fsync and close happen on a background thread, so disk work
overlaps with decompression and hashing; a file that failed its digest is deleted.
"""

from __future__ import annotations

import os
import queue
import threading
from pathlib import Path
from typing import Any, BinaryIO

from appliance.store.blobs import BlobStore
from appliance import testhooks
from kit.format.manifest import Entry

RECORD_FILE = "record.dsse.json"


_Job = tuple[str, Any, Any]       # ("write", fh, chunk) | ("close", fh, keep) ; None stops


class _Writer:
    """Writes, fsyncs and closes staged files on one background thread.

    The reader thread only queues chunks (views of immutable ``bytes``, so no copy), so
    write syscalls and flushes overlap with decompression and hashing; the bounded
    queue keeps memory flat (at most ``depth`` chunks in flight).
    """

    def __init__(self, depth: int = 32) -> None:
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=depth)
        self._error: OSError | None = None
        self._thread = threading.Thread(target=self._run, name="stella-stage-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (job := self._queue.get()) is not None:
            op, fh, arg = job
            try:
                if op == "write":
                    if self._error is None:
                        fh.write(arg)
                elif arg is True:
                    os.fsync(fh.fileno())
            except OSError as exc:
                self._error = self._error or exc
            finally:
                if op == "close":
                    fh.close()
                    if arg is not True:
                        os.unlink(fh.name)

    def write(self, fh: BinaryIO, chunk: memoryview) -> None:
        self._queue.put(("write", fh, chunk))

    def close(self, fh: BinaryIO, keep: bool) -> None:
        """fsync and close (keep), or close and delete (a blob that failed its digest)."""
        self._queue.put(("close", fh, keep))

    def finish(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error


class _StagedBlob:
    def __init__(self, sink: "StagingSink", hexdigest: str, fh: BinaryIO):
        self._sink, self._hex, self._fh = sink, hexdigest, fh

    def write(self, chunk: memoryview) -> None:
        self._sink.writer.write(self._fh, chunk)

    def close(self, verified: bool) -> None:
        self._sink.closed(self._hex, self._fh, verified)


class StagingSink:
    """An EntrySink writing new content under *directory* (``staging/<import-id>``)."""

    def __init__(self, directory: Path, store: BlobStore):
        self.directory = directory
        self.blob_dir = directory / "blobs"
        self.store = store
        self.staged: dict[str, int] = {}      # hex -> size, verified and written
        self.bytes_written = 0
        self._pending: set[str] = set()
        self.writer = _Writer()
        self._count = 0
        self._sizes: dict[str, int] = {}

    def open(self, entry: Entry) -> _StagedBlob | None:
        hexdigest = entry.sha256
        if hexdigest in self.staged or hexdigest in self._pending or self.store.has(hexdigest):
            return None
        self._pending.add(hexdigest)
        self._sizes[hexdigest] = entry.size
        fh = open(self.blob_dir / hexdigest, "wb", buffering=0)
        return _StagedBlob(self, hexdigest, fh)  # type: ignore[arg-type]

    def closed(self, hexdigest: str, fh: BinaryIO, verified: bool) -> None:
        self._pending.discard(hexdigest)
        self.writer.close(fh, verified)
        if not verified:
            return
        size = self._sizes[hexdigest]
        self.staged[hexdigest] = size
        self.bytes_written += size
        self._count += 1
        testhooks.pause(f"staged:{self._count}")

    def finish(self) -> None:
        """Wait for every fsync (raises the first OSError)."""
        self.writer.finish()

    def locate(self, hexdigest: str) -> Path:
        """Where the bytes of *hexdigest* are now: staged by this import, or in the store."""
        return self.blob_dir / hexdigest if hexdigest in self.staged else self.store.path(hexdigest)


def create(directory: Path, store: BlobStore) -> StagingSink:
    (directory / "blobs").mkdir(parents=True)
    return StagingSink(directory, store)
