"""Scanning a layer while it downloads (a ``bundler.oci.pull.LayerTap``).

Without this, the last image's layers are inflated and walked only after its download
ends, and the build waits for that. Here the bytes the puller receives are also handed
to a scanner thread through a bounded in-memory pipe; when the puller has verified and
stored the blob (``finish``) the scan is published to the :class:`ScanCache`, so the
image's cataloging finds it there. A scan that fails, meets a construct only ``tarfile``
reads, or falls more than ``MAX_BEHIND`` bytes behind the download gives up quietly:
cataloging then reads the stored blob as it always did (and reports any error, naming the
image). The download never waits for the scanner.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from bundler.sbom.layers import LayerLimits, ScanCache, ScanKey, scan_stream
from bundler.sbom.probe import ContentProbe

MAX_BEHIND = 64 << 20        # compressed bytes the scanner may lag before it gives up


class _Pipe:
    """Bytes fed by one thread, read front to back by another."""

    def __init__(self) -> None:
        self._parts: deque[bytes] = deque()
        self._held = 0
        self._ended = False
        self._broken = False
        self._ready = threading.Condition()

    def feed(self, chunk: bytes) -> bool:
        """False (and the pipe broken) when the reader is too far behind."""
        with self._ready:
            if self._broken:
                return False
            if self._held + len(chunk) > MAX_BEHIND:
                self._broken = True
                self._ready.notify()
                return False
            self._parts.append(chunk)
            self._held += len(chunk)
            self._ready.notify()
            return True

    def end(self, broken: bool = False) -> None:
        with self._ready:
            self._ended = True
            self._broken = self._broken or broken
            self._ready.notify()

    def read(self, n: int = -1) -> bytes:
        if n == 0:
            return b""
        with self._ready:
            self._ready.wait_for(lambda: self._parts or self._ended or self._broken)
            if self._broken:
                raise _GaveUp()
            if not self._parts:
                return b""
            part = self._parts.popleft()
            if 0 <= n < len(part):
                part, rest = part[:n], part[n:]
                self._parts.appendleft(rest)
            self._held -= len(part)
            return part


class _GaveUp(Exception):
    pass


class StreamingScan:
    """The tap for one layer: scan in a thread, publish on ``finish``, drop otherwise."""

    def __init__(self, digest: str, key: ScanKey, scans: ScanCache, wants: Callable[[str], bool],
                 limits: LayerLimits, probe: ContentProbe | None,
                 on_cpu: Callable[[float], None] | None = None) -> None:
        self._on_cpu = on_cpu
        self._end = scans.pending(key)
        self._pipe = _Pipe()
        self._result: object = None
        self._verified = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(digest, wants, limits, probe),
                                        name=f"scan-{digest[7:19]}", daemon=True)
        if self._end is not None:
            self._thread.start()

    @property
    def active(self) -> bool:
        return self._end is not None

    def _run(self, digest: str, wants: Callable[[str], bool], limits: LayerLimits, probe: ContentProbe | None) -> None:
        changes, started = None, time.thread_time()
        try:
            changes = scan_stream(self._pipe, wants, limits, f"layer {digest}", probe)
        except BaseException:   # noqa: BLE001 — any failure: the stored blob is scanned instead
            changes = None
        if self._on_cpu is not None:
            self._on_cpu(time.thread_time() - started)   # CPU, not wall: the wall is the download's
        self._verified.wait()
        assert self._end is not None
        self._end(changes if self._result == "finished" else None)

    def feed(self, chunk: bytes) -> None:
        if self._end is not None:
            self._pipe.feed(chunk)

    def finish(self) -> None:
        self._settle("finished")

    def abort(self) -> None:
        self._settle("aborted")

    def _settle(self, how: str) -> None:
        if self._end is None or self._verified.is_set():
            return
        self._result = how
        self._pipe.end(broken=how != "finished")
        self._verified.set()
