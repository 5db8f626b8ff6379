"""The kit writer: plan, hash, sign, then stream every entry once into a zstd'd tar.

Two passes over the inputs, because the signed index (with every digest) is the first
entry: the first pass hashes, the second copies. A file that changes between the passes
(size, times or inode) fails the build with a clear message; a change that left no trace
in ``stat`` would give a kit whose digest check fails on reading, never a kit that lies.
The output is written to a temporary file beside the target, fsync'd and renamed, so
no partial kit is ever left under the target name.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import io
import os
import stat
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from kit import dsse
from kit.crypto.keys import Signer
from kit.errors import DuplicateIndexEntry, InputChanged, KitIOError, NoSigningKey, UnsafeIndexPath
from kit.format import tarstream, zstdio
from kit.format.limits import KitLimits
from kit.format.manifest import KIT_MANIFEST_TYPE, MANIFEST_PATH, Entry, Manifest, check_entry_path, check_index
from kit.timeutil import epoch_seconds

Progress = Callable[[int], None]


@dataclass(frozen=True)
class EntrySource:
    """One entry to write: its path and media type, and its bytes from a file or memory.

    With both ``data`` and ``file``, the bytes written are ``data`` (what the caller checked)
    and ``file`` names where they came from: a file that changes during the build fails it.
    ``sha256`` may be given for a content-addressed file whose digest the caller verified
    in this process (an OCI blob named by its digest): the hashing pass then only stats it.
    A wrong value cannot produce a kit that verifies: every reader checks every digest.
    """

    path: str
    media_type: str
    file: Path | None = None
    data: bytes | None = None
    sha256: str | None = None

    def open(self) -> io.BufferedIOBase:   # buffered: readinto fills one buffer reused for every piece
        if self.data is not None:
            return io.BytesIO(self.data)
        assert self.file is not None
        return open_regular(self.file)


def open_regular(path: Path) -> io.BufferedReader:
    """Open *path* for reading only if it is a regular file: a FIFO or device is refused, never read.

    ``O_NONBLOCK`` keeps the open itself from waiting for a FIFO's writer; the check is on
    the opened descriptor, so a file swapped for a FIFO after an earlier check is caught too.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, "not a regular file (a FIFO, device, socket or folder)", str(path))
        os.set_blocking(fd, True)
        return open(fd, "rb", closefd=True)
    except BaseException:
        os.close(fd)
        raise


@dataclass(frozen=True)
class WriteResult:
    manifest: Manifest
    envelope: dsse.Envelope
    path: Path
    file_size: int
    file_sha256: str


class _HashingFile:
    """A write-only file object that hashes and counts what passes through."""

    def __init__(self, fh: BinaryIO):
        self._fh = fh
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | memoryview) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self._fh.write(data)

    def flush(self) -> None:
        self._fh.flush()


def _stream(source: EntrySource, buf: bytearray, progress: Progress | None) -> Iterable[memoryview]:
    view = memoryview(buf)
    try:
        with source.open() as fh:
            while True:
                n = fh.readinto(buf)
                if not n:
                    return
                if progress:
                    progress(n)
                yield view[:n]
    except OSError as exc:
        raise KitIOError(f"cannot read {source.file}: {exc.strerror}", entry=source.path) from None


def hash_source(source: EntrySource, buf: bytearray, progress: Progress | None = None) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    for piece in _stream(source, buf, progress):
        digest.update(piece)
        size += len(piece)
    return digest.hexdigest(), size


Fingerprint = tuple[int, int, int, int, int] | None


def _fingerprint(source: EntrySource) -> Fingerprint:
    """What changes when a file is written to: size, times, identity (None for in-memory data)."""
    if source.file is None:
        return None
    try:
        st = os.stat(source.file)
    except OSError as exc:
        raise KitIOError(f"cannot read {source.file}: {exc.strerror}", entry=source.path) from None
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


@dataclass(frozen=True)
class _Planned:
    source: EntrySource
    entry: Entry
    fingerprint: Fingerprint


def _hash_one(source: EntrySource, progress: Progress | None) -> _Planned:
    before = _fingerprint(source)
    if source.sha256 is not None and before is not None:
        if progress:
            progress(before[0])
        return _Planned(source, Entry(source.path, source.media_type, before[0], source.sha256), before)
    sha, size = hash_source(source, bytearray(zstdio.WRITE_CHUNK), progress)
    if _fingerprint(source) != before:
        raise _changed(source)
    return _Planned(source, Entry(source.path, source.media_type, size, sha), before)


def _changed(source: EntrySource) -> KitIOError:
    return InputChanged(f"{source.file or source.path} changed while the kit was being built; build again",
                        entry=source.path)


def plan_entries(sources: Sequence[EntrySource], progress: Progress | None = None) -> list[_Planned]:
    """Check paths and hash every source (first pass), sorted by path.

    Two threads hash different files at once: hashlib releases the GIL, and this pass
    is pure CPU when the inputs sit in the page cache.

    Raises:
        KitFormatError: an unsafe or duplicated entry path.
        KitIOError: a source cannot be read, or changed while it was hashed.
    """
    seen: set[str] = set()
    for src in sources:
        problem = check_entry_path(src.path)
        if problem:
            raise UnsafeIndexPath(f"cannot carry {src.path!r}: {problem}", entry=src.path)
        if src.path in seen:
            raise DuplicateIndexEntry(f"two inputs map to the same kit path {src.path!r}",
                                      entry=src.path)
        seen.add(src.path)
    ordered = sorted(sources, key=lambda s: s.path.encode("utf-8"))
    with ThreadPoolExecutor(max_workers=zstdio.THREADS) as pool:
        return list(pool.map(lambda s: _hash_one(s, progress), ordered))


def _copy_entry(planned: _Planned, out: Any, mtime: int, buf: bytearray, progress: Progress | None) -> None:
    """Copy one planned input into the stream (second pass).

    The bytes are not hashed again: a file whose size, times or identity changed since
    it was hashed fails the build here, and any other difference would be caught by the
    reader's digest check, so a kit can never vouch for bytes it does not hold.
    """
    entry = planned.entry
    out.write(tarstream.encode_header(entry.path, entry.size, mtime))
    size = 0
    for piece in _stream(planned.source, buf, progress):
        size += len(piece)
        if size > entry.size:
            break
        out.write(piece)
    if size != entry.size or _fingerprint(planned.source) != planned.fingerprint:
        raise _changed(planned.source)
    out.write(bytes(tarstream.padding(entry.size)))


def write_kit(out_path: Path, *, name: str, channel: str, sequence: int, created: dt.datetime,
              expires: dt.datetime, sources: Sequence[EntrySource], signers: Sequence[Signer],
              generator: dict[str, str], kind: str = "full", base: dict[str, Any] | None = None,
              inherited: Sequence[Entry] = (), annotations: dict[str, str] | None = None,
              limits: KitLimits = KitLimits(), progress: Progress | None = None,
              derived: Callable[[Sequence[Entry]], Sequence[EntrySource]] | None = None,
              base_digests: Collection[str] | None = None) -> WriteResult:
    """Write a signed kit to *out_path* atomically.

    *progress*, if given, is called with byte counts as inputs are read (each input is
    read twice: once to hash, once to copy). A delta kit (``kind="delta"``) names its
    ``base`` (``{"kitId", "sequence"}``) and lists in *inherited* the base's entries it
    does not carry. *derived*, if given, is called with the planned entries (paths and
    digests, after the hashing pass) and returns more entries computed from them — the
    bundler's signed provenance over every other entry — without hashing inputs twice.
    *base_digests*, if given (a delta), are the sha256 digests the base kit holds: every
    planned entry whose digest is among them is listed in ``inherited`` instead of carried.

    Raises:
        KitFormatError: unsafe paths, or a manifest that would not validate.
        KitIOError: unreadable inputs, an input that changed, or an unwritable output.
    """
    if not signers:
        raise NoSigningKey("a kit needs at least one signing key")
    planned = plan_entries(sources, progress)
    if derived is not None:
        extra = plan_entries(derived([p.entry for p in planned]))
        planned = sorted([*planned, *extra], key=lambda p: p.entry.path.encode("utf-8"))
        if len({p.entry.path for p in planned}) != len(planned):
            raise DuplicateIndexEntry("a derived entry repeats the path of an input")
    if base_digests is not None:
        inherited = [*inherited, *(p.entry for p in planned if p.entry.sha256 in base_digests)]
        planned = [p for p in planned if p.entry.sha256 not in base_digests]
    entries = [p.entry for p in planned]
    check_index(tuple(entries), limits, "kit")
    manifest = Manifest(name=name, channel=channel, sequence=sequence, created=created, expires=expires,
                        entries=tuple(entries), generator=generator, kind=kind, base=base,
                        inherited=tuple(sorted(inherited, key=lambda e: e.path.encode("utf-8"))),
                        annotations=annotations or {})
    Manifest.from_payload(manifest.to_dict(), limits, "kit manifest")   # the reader's own checks
    envelope = dsse.sign(KIT_MANIFEST_TYPE, manifest.to_bytes(), signers)
    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.partial")
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_partials(out_path)
        with open(tmp, "wb") as raw:
            hashed = _HashingFile(raw)
            _write_stream(hashed, envelope, manifest, planned, progress)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, out_path)
    except OSError as exc:
        raise KitIOError(f"cannot write {out_path}: {exc.strerror}") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return WriteResult(manifest, envelope, out_path, hashed.size, hashed.sha256.hexdigest())


def remove_stale_partials(out_path: Path) -> list[Path]:
    """Remove ``.NAME.PID.partial`` files beside *out_path* left by a build whose process is gone.

    A build removes its own partial file when it fails or is interrupted (SIGINT, SIGTERM);
    only ``kill -9`` or a power cut leaves one. A partial file of a live process is kept.
    """
    removed = []
    prefix = f".{out_path.name}."
    for candidate in out_path.parent.glob(f".{glob_escape(out_path.name)}.*.partial"):
        pid = candidate.name[len(prefix):-len(".partial")]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        with contextlib.suppress(FileNotFoundError):
            candidate.unlink()
            removed.append(candidate)
    return removed


def glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return pid < 1 << 22          # another user's live process (or an impossible pid: stale)
    return True


def _write_stream(out: _HashingFile, envelope: dsse.Envelope, manifest: Manifest,
                  planned: Sequence[_Planned], progress: Progress | None) -> None:
    mtime = epoch_seconds(manifest.created)
    envelope_bytes = envelope.to_bytes()
    buf = bytearray(zstdio.WRITE_CHUNK)
    with zstdio.stream_writer(out) as z:
        z.write(tarstream.encode_header(MANIFEST_PATH, len(envelope_bytes), mtime))
        z.write(envelope_bytes)
        z.write(bytes(tarstream.padding(len(envelope_bytes))))
        for item in planned:
            _copy_entry(item, z, mtime, buf, progress)
        z.write(tarstream.END_OF_ARCHIVE)
