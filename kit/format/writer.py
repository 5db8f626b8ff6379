"""The kit writer: plan, hash, sign, then stream every entry once into a zstd'd tar.

Two passes over the inputs, because the signed index (with every digest) is the first
entry: the first pass hashes, the second copies while hashing again, so a file that
changes between the passes fails the build instead of producing a kit that lies.
The output is written to a temporary file beside the target, fsync'd and renamed, so
no partial kit is ever left under the target name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from kit import dsse
from kit.crypto.keys import Signer
from kit.errors import KitFormatError, KitIOError
from kit.format import tarstream, zstdio
from kit.format.limits import KitLimits
from kit.format.manifest import KIT_MANIFEST_TYPE, MANIFEST_PATH, Entry, Manifest, check_entry_path, check_index
from kit.timeutil import epoch_seconds

Progress = Callable[[int], None]


@dataclass(frozen=True)
class EntrySource:
    """One entry to write: its path and media type, and its bytes from a file or memory."""

    path: str
    media_type: str
    file: Path | None = None
    data: bytes | None = None

    def open(self) -> BinaryIO:
        if self.data is not None:
            import io
            return io.BytesIO(self.data)
        assert self.file is not None
        return open(self.file, "rb")


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
                n = fh.readinto(buf)   # type: ignore[attr-defined]
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


def plan_entries(sources: Sequence[EntrySource], progress: Progress | None = None) -> list[Entry]:
    """Check paths and hash every source (first pass).

    Raises:
        KitFormatError: an unsafe or duplicated entry path.
        KitIOError: a source cannot be read.
    """
    seen: set[str] = set()
    for src in sources:
        problem = check_entry_path(src.path)
        if problem:
            raise KitFormatError(f"cannot carry {src.path!r}: {problem}", kind="unsafe-path", entry=src.path)
        if src.path in seen:
            raise KitFormatError(f"two inputs map to the same kit path {src.path!r}", kind="duplicate-entry",
                                 entry=src.path)
        seen.add(src.path)
    buf = bytearray(zstdio.CHUNK)
    entries = []
    for src in sorted(sources, key=lambda s: s.path.encode("utf-8")):
        sha, size = hash_source(src, buf, progress)
        entries.append(Entry(src.path, src.media_type, size, sha))
    return entries


def _copy_entry(src: EntrySource, entry: Entry, out: Any, mtime: int, buf: bytearray,
                progress: Progress | None) -> None:
    out.write(tarstream.encode_header(entry.path, entry.size, mtime))
    digest, size = hashlib.sha256(), 0
    for piece in _stream(src, buf, progress):
        size += len(piece)
        if size > entry.size:
            break
        digest.update(piece)
        out.write(piece)
    if size != entry.size or digest.hexdigest() != entry.sha256:
        raise KitIOError(f"{src.file or src.path} changed while the kit was being built; build again",
                         kind="input-changed", entry=entry.path)
    out.write(bytes(tarstream.padding(entry.size)))


def write_kit(out_path: Path, *, name: str, channel: str, sequence: int, created: dt.datetime,
              expires: dt.datetime, sources: Sequence[EntrySource], signers: Sequence[Signer],
              generator: dict[str, str], kind: str = "full", base: dict[str, Any] | None = None,
              inherited: Sequence[Entry] = (), annotations: dict[str, str] | None = None,
              limits: KitLimits = KitLimits(),
              progress: Progress | None = None) -> WriteResult:
    """Write a signed kit to *out_path* atomically.

    *progress*, if given, is called with byte counts as inputs are read (each input is
    read twice: once to hash, once to copy). A delta kit (``kind="delta"``) names its
    ``base`` (``{"kitId", "sequence"}``) and lists in *inherited* the base's entries it
    does not carry.

    Raises:
        KitFormatError: unsafe paths, or a manifest that would not validate.
        KitIOError: unreadable inputs, an input that changed, or an unwritable output.
    """
    if not signers:
        raise KitFormatError("a kit needs at least one signing key", kind="unsigned")
    entries = plan_entries(sources, progress)
    check_index(tuple(entries), limits, "kit")
    manifest = Manifest(name=name, channel=channel, sequence=sequence, created=created, expires=expires,
                        entries=tuple(entries), generator=generator, kind=kind, base=base,
                        inherited=tuple(sorted(inherited, key=lambda e: e.path.encode("utf-8"))),
                        annotations=annotations or {})
    Manifest.from_payload(manifest.to_dict(), limits, "kit manifest")   # the reader's own checks
    envelope = dsse.sign(KIT_MANIFEST_TYPE, manifest.to_bytes(), signers)
    by_path = {s.path: s for s in sources}
    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.partial")
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as raw:
            hashed = _HashingFile(raw)
            _write_stream(hashed, envelope, manifest, by_path, progress)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, out_path)
    except OSError as exc:
        raise KitIOError(f"cannot write {out_path}: {exc.strerror}") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return WriteResult(manifest, envelope, out_path, hashed.size, hashed.sha256.hexdigest())


def _write_stream(out: _HashingFile, envelope: dsse.Envelope, manifest: Manifest,
                  by_path: dict[str, EntrySource], progress: Progress | None) -> None:
    mtime = epoch_seconds(manifest.created)
    envelope_bytes = envelope.to_bytes()
    buf = bytearray(zstdio.CHUNK)
    with zstdio.compressor().stream_writer(out, closefd=False) as z:
        z.write(tarstream.encode_header(MANIFEST_PATH, len(envelope_bytes), mtime))
        z.write(envelope_bytes)
        z.write(bytes(tarstream.padding(len(envelope_bytes))))
        for entry in manifest.entries:
            _copy_entry(by_path[entry.path], entry, z, mtime, buf, progress)
        z.write(tarstream.END_OF_ARCHIVE)
