"""The staging sink: new blobs of one import go to ``staging/<import-id>/blobs/<hex>``.

Blobs already in the content store, or already staged by this import (two paths with
the same content), are not written again: ``open`` returns None and the reader only
hashes them. Each staged file is fsync'd by a background thread as soon as the reader
says it verified, so disk flushes overlap with decompression and hashing; a file that
failed its digest is deleted.
"""

from __future__ import annotations

import os
import queue
import threading
from pathlib import Path
from typing import BinaryIO

from appliance.store.blobs import BlobStore
from appliance import testhooks
from kit.format.manifest import Entry

RECORD_FILE = "record.dsse.json"


class _Flusher:
    """fsync + close files off the reading thread (fsync releases the GIL)."""

    def __init__(self) -> None:
        self._queue: queue.Queue[BinaryIO | None] = queue.Queue(maxsize=256)
        self._error: OSError | None = None
        self._thread = threading.Thread(target=self._run, name="stella-fsync", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (fh := self._queue.get()) is not None:
            try:
                fh.flush()
                os.fsync(fh.fileno())
            except OSError as exc:
                self._error = exc
            finally:
                fh.close()

    def submit(self, fh: BinaryIO) -> None:
        self._queue.put(fh)

    def finish(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error


class _StagedBlob:
    def __init__(self, sink: "StagingSink", hexdigest: str, fh: BinaryIO):
        self._sink, self._hex, self._fh = sink, hexdigest, fh

    def write(self, chunk: memoryview) -> None:
        self._fh.write(chunk)

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
        self._flusher = _Flusher()
        self._count = 0

    def open(self, entry: Entry) -> _StagedBlob | None:
        hexdigest = entry.sha256
        if hexdigest in self.staged or hexdigest in self._pending or self.store.has(hexdigest):
            return None
        self._pending.add(hexdigest)
        fh = open(self.blob_dir / hexdigest, "wb", buffering=0)
        return _StagedBlob(self, hexdigest, fh)  # type: ignore[arg-type]

    def closed(self, hexdigest: str, fh: BinaryIO, verified: bool) -> None:
        self._pending.discard(hexdigest)
        if not verified:
            fh.close()
            (self.blob_dir / hexdigest).unlink(missing_ok=True)
            return
        size = fh.tell()
        self._flusher.submit(fh)
        self.staged[hexdigest] = size
        self.bytes_written += size
        self._count += 1
        testhooks.pause(f"staged:{self._count}")

    def finish(self) -> None:
        """Wait for every fsync (raises the first OSError)."""
        self._flusher.finish()

    def locate(self, hexdigest: str) -> Path:
        """Where the bytes of *hexdigest* are now: staged by this import, or in the store."""
        return self.blob_dir / hexdigest if hexdigest in self.staged else self.store.path(hexdigest)


def create(directory: Path, store: BlobStore) -> StagingSink:
    (directory / "blobs").mkdir(parents=True)
    return StagingSink(directory, store)
