"""Reading an image's layers in order as a stream, keeping only the files catalogers want.

Nothing is unpacked to disk. Each layer tar (gzip, zstd or plain; detected by magic
bytes, not by media type) is read once with ``tarfile`` in stream mode. Whiteouts
follow the OCI image spec: ``.wh.NAME`` deletes NAME (and what is below it) from the
layers underneath, ``DIR/.wh..wh..opq`` hides everything the lower layers put in DIR;
both apply only to lower layers, never to entries of their own layer. A non-directory
entry also hides whatever lower layers had at or below its path.

For database files (``history`` paths) the earlier versions are kept too, so a
cataloger can attribute each package to the layer that last changed it. Files found by
content (a :class:`~bundler.sbom.probe.Probe`, e.g. Go binaries) are kept as their
excerpt only, under their own path.
"""

from __future__ import annotations

import functools
import gzip
import io
import posixpath
import tarfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from bundler.sbom import tarscan
from bundler.sbom.errors import HostileLayerError, LayerError, LayerLimitError
from bundler.sbom.probe import ContentProbe

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
_GZIP, _ZSTD = b"\x1f\x8b", b"\x28\xb5\x2f\xfd"


@dataclass(frozen=True)
class LayerLimits:
    """Bounds on what a layer may make us read or keep."""

    max_file_bytes: int = 64 * 1024 * 1024
    max_kept_bytes: int = 512 * 1024 * 1024
    max_layer_bytes: int = 64 * 1024 * 1024 * 1024
    max_entries: int = 2_000_000


@dataclass(frozen=True)
class KeptFile:
    """A wanted file as the final image shows it, and the layer that wrote it."""

    path: str
    data: bytes
    layer: str
    history: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)

    def versions(self) -> tuple[tuple[str, bytes], ...]:
        """(layer, bytes) of every version since the file last appeared, oldest first."""
        return (*self.history, (self.layer, self.data))


class _Counting(io.RawIOBase):
    """Counts decompressed bytes so a decompression bomb stops at the limit."""

    def __init__(self, inner: tarscan.Readable, limit: int, where: str) -> None:
        self.inner, self.limit, self.where, self.total = inner, limit, where, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf: WriteableBuffer) -> int:
        view = memoryview(buf)
        data = self.inner.read(len(view))
        self.total += len(data)
        if self.total > self.limit:
            raise LayerLimitError(f"{self.where}: more than {self.limit} uncompressed bytes",
                                  entry=self.where)
        view[:len(data)] = data
        return len(data)


@contextmanager
def _open_layer(path: Path, limits: LayerLimits, where: str) -> Iterator[IO[bytes]]:
    with path.open("rb") as raw:
        magic = raw.read(4)
        raw.seek(0)
        if magic.startswith(_GZIP):
            stream: tarscan.Readable = gzip.GzipFile(fileobj=raw, mode="rb")
        elif magic == _ZSTD:
            import zstandard  # only needed for zstd layers
            stream = zstandard.ZstdDecompressor().stream_reader(raw)
        else:
            stream = raw
        yield io.BufferedReader(_Counting(stream, limits.max_layer_bytes, where), 1024 * 1024)


def safe_path(name: str, where: str) -> str:
    """Normalise a tar member name; a ``..`` component is hostile.

    Raises:
        HostileLayerError: the name would escape the image root.
    """
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise HostileLayerError(f"{where}: entry {name!r} escapes the image root",
                                entry=name)
    return "/".join(parts)


@dataclass(frozen=True)
class _Link:
    """A wanted hard link whose target was not (or empty) in its own layer so far.

    Its data is the first non-empty of the lower layers' versions of *targets* (tried in
    order), or the last lookup's result: exactly ``added.get(t) or lower[t].data`` as it
    was evaluated while reading, but resolved when the layer is applied, so a layer's
    changes do not depend on the layers below and can be reused by every image.
    """

    targets: tuple[str, ...]

    def resolve(self, lower: dict[str, KeptFile]) -> bytes | None:
        data = None
        for target in self.targets:
            data = lower[target].data if target in lower else None
            if data:
                return data
        return data


@dataclass
class _LayerChanges:
    added: dict[str, bytes | _Link] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    opaque: list[str] = field(default_factory=list)


class _Changes:
    """Builds a layer's changes from its members, in order."""

    def __init__(self, wants: Callable[[str], bool], limits: LayerLimits, where: str,
                 probe: ContentProbe | None = None) -> None:
        self.wants, self.limits, self.where, self.probe = wants, limits, where, probe
        self.changes, self.count = _LayerChanges(), 0

    def member(self, name: str, kind: str, linkname: str, size: int, mode: int,
               read: Callable[[int], bytes]) -> None:
        """Record one member; *read(n)* streams a regular file's content (the next bytes,
        at most *n*)."""
        self.count += 1
        limits, where, changes = self.limits, self.where, self.changes
        if self.count > limits.max_entries:
            raise LayerLimitError(f"{where}: more than {limits.max_entries} entries", entry=where)
        path = safe_path(name, where)
        parent, base = posixpath.split(path)
        if base == OPAQUE:
            changes.opaque.append(parent)
        elif base.startswith(WHITEOUT):
            changes.removed.append(posixpath.join(parent, base[len(WHITEOUT):]))
        elif kind != "dir":
            changes.removed.append(path)
            if kind == "file" and self.wants(path):
                if size > limits.max_file_bytes:
                    raise LayerLimitError(f"{where}: {path} is {size} bytes, limit "
                                          f"{limits.max_file_bytes}", entry=path)
                changes.added[path] = read(size)
            elif kind == "file" and self.probe is not None \
                    and (look := self.probe.reader(path, mode, size)) is not None:
                excerpt = look(read, size)
                if excerpt is not None:
                    changes.added[path] = excerpt
            elif kind == "link" and self.wants(path):
                target = safe_path(linkname, where)
                here = changes.added.get(target)
                if isinstance(here, _Link):
                    changes.added[path] = _Link((*here.targets, target))
                elif here:
                    changes.added[path] = here
                else:
                    changes.added[path] = _Link((target,))


def _scan_fast(path: Path, wants: Callable[[str], bool], limits: LayerLimits,
               where: str, probe: ContentProbe | None = None) -> _LayerChanges:
    return _scan_chunks(tarscan.chunks(path, limits.max_layer_bytes, where), wants, limits, where, probe)


def scan_stream(raw: tarscan.Readable, wants: Callable[[str], bool], limits: LayerLimits, where: str,
                probe: ContentProbe | None = None) -> _LayerChanges:
    """A layer's changes from a file object read front to back (e.g. a download as it
    arrives), with the fast reader only: anything it leaves to ``tarfile`` raises
    ``tarscan.Unsupported``, and the caller scans the stored blob instead."""
    return _scan_chunks(tarscan.chunks_of(raw, limits.max_layer_bytes, where), wants, limits, where, probe)


def _scan_chunks(source: Iterator[bytes], wants: Callable[[str], bool], limits: LayerLimits,
                 where: str, probe: ContentProbe | None) -> _LayerChanges:
    builder = _Changes(wants, limits, where, probe)
    scanner = tarscan.TarScanner(source, max(limits.max_file_bytes, 1 << 20), where)
    for m in scanner:
        builder.member(m.name, m.kind, m.linkname, m.size, m.mode, functools.partial(scanner.read_some, m))
    return builder.changes


def _scan_tarfile(path: Path, wants: Callable[[str], bool], limits: LayerLimits,
                  where: str, probe: ContentProbe | None = None) -> _LayerChanges:
    """The reference reader (``tarfile``), for what the fast reader leaves to it."""
    builder = _Changes(wants, limits, where, probe)
    with _open_layer(path, limits, where) as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
        for m in tar:
            kind = "dir" if m.isdir() else "file" if m.isreg() else "link" if m.islnk() else "other"
            builder.member(m.name, kind, m.linkname, m.size, m.mode, _MemberReader(tar, m))
    return builder.changes


class _MemberReader:
    """``read(n)`` over one member of a stream-mode tarfile (opened on first use)."""

    def __init__(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        self.tar, self.member = tar, member
        self.fh: IO[bytes] | None = None

    def __call__(self, n: int) -> bytes:
        if self.fh is None:
            self.fh = self.tar.extractfile(self.member)
            if self.fh is None:
                return b""
        return self.fh.read(n)


_UNREADABLE: tuple[type[Exception], ...] = (
    tarscan.TarReadError, tarfile.TarError, EOFError, OSError, *tarscan.INFLATE_ERRORS)


def scan_layer(digest: str, path: Path, wants: Callable[[str], bool], limits: LayerLimits,
               where: str, probe: ContentProbe | None = None) -> _LayerChanges:
    """One layer's changes (independent of the layers below it).

    Raises:
        LayerError, HostileLayerError, LayerLimitError: as :func:`read_layers`.
    """
    try:
        try:
            return _scan_fast(path, wants, limits, where, probe)
        except tarscan.Unsupported:
            return _scan_tarfile(path, wants, limits, where, probe)
    except _UNREADABLE as exc:
        raise LayerError(f"{where}: not a readable tar layer ({exc})", entry=digest) from exc
    except Exception as exc:  # zstandard.ZstdError has no common base we can import lazily
        if type(exc).__name__ != "ZstdError":
            raise
        raise LayerError(f"{where}: bad zstd data ({exc})", entry=digest) from exc


ScanKey = tuple[str, object, LayerLimits]


class ScanCache:
    """Layer scans reused across images (a base layer shared by many images is read once).

    Keyed by layer digest, the *wants* function and the limits; holds only the kept
    files' bytes. Thread-safe. A scan in progress elsewhere (of a layer still
    downloading) is announced with :meth:`pending`; :meth:`get` waits for it to end.
    """

    def __init__(self) -> None:
        self._scans: dict[ScanKey, _LayerChanges] = {}
        self._pending: dict[ScanKey, threading.Event] = {}
        self._lock = threading.Lock()

    def get(self, key: ScanKey) -> _LayerChanges | None:
        """The scan of *key*, after any scan of it in progress has ended (None: none)."""
        with self._lock:
            waiting = self._pending.get(key)
        if waiting is not None:
            waiting.wait()
        return self._scans.get(key)

    def put(self, key: ScanKey, changes: _LayerChanges) -> None:
        self._scans[key] = changes

    def pending(self, key: ScanKey) -> Callable[[_LayerChanges | None], None] | None:
        """Announce a scan of *key* in progress; returns the function that ends it (with its
        result, or None when it gave up). None when *key* is scanned or announced already."""
        done = threading.Event()
        with self._lock:
            if key in self._scans or key in self._pending:
                return None
            self._pending[key] = done

        def end(changes: _LayerChanges | None) -> None:
            if changes is not None:
                self._scans[key] = changes
            with self._lock:
                self._pending.pop(key, None)
            done.set()
        return end


def _under(path: str, prefix: str) -> bool:
    return prefix == "" or path.startswith(prefix + "/")


def _apply(state: dict[str, KeptFile], changes: _LayerChanges, layer: str,
           history: Callable[[str], bool]) -> None:
    added: dict[str, bytes] = {}
    for path, value in changes.added.items():       # links see the layers below only
        data = value.resolve(state) if isinstance(value, _Link) else value
        if data is not None:
            added[path] = data
    for gone in changes.removed:
        for path in [p for p in state if _under(p, gone) or (p == gone and p not in added)]:
            del state[path]
    for directory in changes.opaque:
        for path in [p for p in state if _under(p, directory)]:
            del state[path]
    for path, data in added.items():
        prev = state.get(path)
        past = (*prev.history, (prev.layer, prev.data)) if prev and history(path) else ()
        state[path] = KeptFile(path, data, layer, past)


def read_layers(image: str, layers: Sequence[tuple[str, Path]], wants: Callable[[str], bool],
                *, history: Callable[[str], bool] = lambda _p: False,
                limits: LayerLimits | None = None, scans: ScanCache | None = None,
                wants_key: object = None, probe: ContentProbe | None = None) -> dict[str, KeptFile]:
    """Merge *layers* (digest, blob path; base first) into the wanted files of the image.

    With *scans*, a layer already scanned with the same *wants_key* (default: the
    *wants* function itself) and limits is not read again.

    Raises:
        LayerError: a layer is not (compressed) tar data.
        HostileLayerError: an entry name contains ``..``.
        LayerLimitError: a layer, a kept file or the kept total is too large.
    """
    limits = limits or LayerLimits()
    state: dict[str, KeptFile] = {}
    for digest, path in layers:
        where = f"image {image} layer {digest}"
        key = (digest, wants_key if wants_key is not None else wants, limits)
        changes = scans.get(key) if scans is not None else None
        if changes is None:
            changes = scan_layer(digest, path, wants, limits, where, probe)
            if scans is not None:
                scans.put(key, changes)
        _apply(state, changes, digest, history)
        kept = sum(len(d) for f in state.values() for _l, d in f.versions())
        if kept > limits.max_kept_bytes:
            raise LayerLimitError(f"{where}: cataloged files total {kept} bytes, limit "
                                  f"{limits.max_kept_bytes}", entry=digest)
    return state
