"""A kit's content as the diff reads it: its manifest, and its documents opened by entry.

A view is a manifest plus a way to open an entry's bytes. For a kit file, one streaming
pass (every digest checked; signatures too when a trust root is given) keeps the
documents the diff compares — releases, advisory records, VEX, policy, trust roots —
in spooled temporary files (memory up to a few MiB each, then disk), never an image
layer. Entries a delta inherits are opened through a *fallback* (the base kit's view,
or an appliance's content store, by digest); without one they are *unknown*.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from kit.format.limits import KitLimits
from kit.format.manifest import Entry, Manifest
from kit.format.reader import KitReader
from kit.trust.root import TrustRoot

SPOOL = 4 << 20             # bytes of one captured document kept in memory before it spills to disk
COMPARED = ("releases/", "advisories/", "vex/", "policy/", "trust/")
TRUST_ROOT_TYPE = "application/vnd.stella.trust-root+json"

Opener = Callable[[str], IO[bytes] | None]          # sha256 hex -> a readable file, or None


def compared(entry: Entry) -> bool:
    """Whether the diff reads this entry's content (documents, never image blobs or SBOMs)."""
    return entry.path.startswith(COMPARED) or entry.media_type == TRUST_ROOT_TYPE


@dataclass
class KitView:
    """What one side of a diff holds. ``open`` returns a fresh reader positioned at 0, or None."""

    manifest: Manifest
    signed_by: tuple[str, ...] = ()
    file_size: int | None = None
    label: str = ""
    _captured: dict[str, IO[bytes]] = field(default_factory=dict)
    fallback: Opener | None = None
    _borrowed: list[IO[bytes]] = field(default_factory=list)

    @property
    def all_entries(self) -> tuple[Entry, ...]:
        """Every entry of the whole: carried and (for a delta) inherited, sorted by path."""
        return tuple(sorted((*self.manifest.entries, *self.manifest.inherited), key=lambda e: e.path.encode()))

    def open(self, entry: Entry) -> IO[bytes] | None:
        captured = self._captured.get(entry.sha256)
        if captured is not None:
            captured.seek(0)
            return captured
        found = self.fallback(entry.sha256) if self.fallback is not None else None
        if found is not None:
            self._borrowed.append(found)
        return found

    def by_digest(self, sha256: str) -> IO[bytes] | None:
        """A document this kit carries, by digest (the fallback of the other side of a diff)."""
        captured = self._captured.get(sha256)
        if captured is not None:
            captured.seek(0)
        return captured

    def read(self, entry: Entry, limit: int) -> bytes | None:
        """An entry's bytes when known and at most *limit* bytes, else None."""
        if entry.size > limit:
            return None
        fh = self.open(entry)
        return fh.read(limit + 1) if fh is not None else None

    def close(self) -> None:
        """Drop the captured documents and close what the fallback opened (a file may be shared)."""
        for fh in (*self._captured.values(), *self._borrowed):
            fh.close()
        self._captured.clear()
        self._borrowed.clear()


class _Capture:
    def __init__(self, view: KitView):
        self.view = view

    def open(self, entry: Entry) -> _Writer | None:
        if not compared(entry) or entry.sha256 in self.view._captured:
            return None
        return _Writer(self.view, entry.sha256)


class _Writer:
    def __init__(self, view: KitView, sha256: str):
        self.view, self.sha256 = view, sha256
        self.fh: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL)

    def write(self, chunk: memoryview) -> None:
        self.fh.write(chunk)

    def close(self, verified: bool) -> None:
        if verified:
            self.view._captured[self.sha256] = self.fh
        else:
            self.fh.close()


def read_view(path: Path, *, trust: TrustRoot | None = None, fallback: Opener | None = None,
              limits: KitLimits = KitLimits()) -> KitView:
    """Stream *path* once (every digest checked; signatures when *trust* is given), keeping documents.

    Expiry is not checked: a diff compares yesterday's kit too.

    Raises:
        KitError: the kit's own failure (not a kit, bad signature, digest mismatch…), naming the file.
    """
    view = KitView(manifest=_placeholder(), label=path.name, fallback=fallback)
    at = dt.datetime.min.replace(tzinfo=dt.UTC)
    result = KitReader(path, limits=limits).verify(trust=trust, at=at, sink=_Capture(view))
    if result.error is not None:
        view.close()
        error = result.error
        raise type(error)(f"{path}: {error.message}", entry=error.entry)
    assert result.manifest is not None and result.envelope is not None
    view.manifest = result.manifest
    view.signed_by = tuple(sorted(s.keyid for s in result.envelope.signatures))
    view.file_size = path.stat().st_size
    return view


@contextmanager
def opened(path: Path, *, trust: TrustRoot | None = None, fallback: Opener | None = None) -> Iterator[KitView]:
    """:func:`read_view` as a context manager that drops the captured documents after."""
    view = read_view(path, trust=trust, fallback=fallback)
    try:
        yield view
    finally:
        view.close()


def empty_manifest(channel: str = "") -> Manifest:
    """A manifest with no entries: the "old" side when there is nothing to compare with."""
    return _placeholder(channel)


def _placeholder(channel: str = "") -> Manifest:
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return Manifest(name="", channel=channel, sequence=0, created=epoch, expires=epoch, entries=(), generator={})

