"""Reading an image's layers in order as a stream, keeping only the files catalogers want.

Nothing is unpacked to disk. Each layer tar (gzip, zstd or plain; detected by magic
bytes, not by media type) is read once with ``tarfile`` in stream mode. Whiteouts
follow the OCI image spec: ``.wh.NAME`` deletes NAME (and what is below it) from the
layers underneath, ``DIR/.wh..wh..opq`` hides everything the lower layers put in DIR;
both apply only to lower layers, never to entries of their own layer. A non-directory
entry also hides whatever lower layers had at or below its path.

For database files (``history`` paths) the earlier versions are kept too, so a
cataloger can attribute each package to the layer that last changed it.
"""

from __future__ import annotations

import gzip
import io
import posixpath
import tarfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from bundler.sbom.errors import HostileLayerError, LayerError, LayerLimitError

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

    def __init__(self, inner: IO[bytes], limit: int, where: str) -> None:
        self.inner, self.limit, self.where, self.total = inner, limit, where, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf: bytearray) -> int:  # type: ignore[override]
        data = self.inner.read(len(buf))
        self.total += len(data)
        if self.total > self.limit:
            raise LayerLimitError(f"{self.where}: more than {self.limit} uncompressed bytes",
                                  entry=self.where)
        buf[:len(data)] = data
        return len(data)


@contextmanager
def _open_layer(path: Path, limits: LayerLimits, where: str) -> Iterator[IO[bytes]]:
    with path.open("rb") as raw:
        magic = raw.read(4)
        raw.seek(0)
        if magic.startswith(_GZIP):
            stream: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="rb")
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


@dataclass
class _LayerChanges:
    added: dict[str, bytes] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    opaque: list[str] = field(default_factory=list)


def _scan(tar: tarfile.TarFile, wants: Callable[[str], bool], limits: LayerLimits,
          where: str, lower: dict[str, KeptFile]) -> _LayerChanges:
    changes, count = _LayerChanges(), 0
    for member in tar:
        count += 1
        if count > limits.max_entries:
            raise LayerLimitError(f"{where}: more than {limits.max_entries} entries", entry=where)
        path = safe_path(member.name, where)
        parent, base = posixpath.split(path)
        if base == OPAQUE:
            changes.opaque.append(parent)
        elif base.startswith(WHITEOUT):
            changes.removed.append(posixpath.join(parent, base[len(WHITEOUT):]))
        elif not member.isdir():
            changes.removed.append(path)
            if member.isreg() and wants(path):
                changes.added[path] = _read_member(tar, member, path, limits, where)
            elif member.islnk() and wants(path):
                target = safe_path(member.linkname, where)
                data = changes.added.get(target) or (lower[target].data if target in lower else None)
                if data is not None:
                    changes.added[path] = data
    return changes


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo, path: str,
                 limits: LayerLimits, where: str) -> bytes:
    if member.size > limits.max_file_bytes:
        raise LayerLimitError(f"{where}: {path} is {member.size} bytes, limit "
                              f"{limits.max_file_bytes}", entry=path)
    fh = tar.extractfile(member)
    return fh.read() if fh is not None else b""


def _under(path: str, prefix: str) -> bool:
    return prefix == "" or path.startswith(prefix + "/")


def _apply(state: dict[str, KeptFile], changes: _LayerChanges, layer: str,
           history: Callable[[str], bool]) -> None:
    for gone in changes.removed:
        for path in [p for p in state if _under(p, gone) or (p == gone and p not in changes.added)]:
            del state[path]
    for directory in changes.opaque:
        for path in [p for p in state if _under(p, directory)]:
            del state[path]
    for path, data in changes.added.items():
        prev = state.get(path)
        past = (*prev.history, (prev.layer, prev.data)) if prev and history(path) else ()
        state[path] = KeptFile(path, data, layer, past)


def read_layers(image: str, layers: Sequence[tuple[str, Path]], wants: Callable[[str], bool],
                *, history: Callable[[str], bool] = lambda _p: False,
                limits: LayerLimits | None = None) -> dict[str, KeptFile]:
    """Merge *layers* (digest, blob path; base first) into the wanted files of the image.

    Raises:
        LayerError: a layer is not (compressed) tar data.
        HostileLayerError: an entry name contains ``..``.
        LayerLimitError: a layer, a kept file or the kept total is too large.
    """
    limits = limits or LayerLimits()
    state: dict[str, KeptFile] = {}
    for digest, path in layers:
        where = f"image {image} layer {digest}"
        try:
            with _open_layer(path, limits, where) as stream, \
                    tarfile.open(fileobj=stream, mode="r|") as tar:
                changes = _scan(tar, wants, limits, where, state)
        except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
            raise LayerError(f"{where}: not a readable tar layer ({exc})", entry=digest) from exc
        except Exception as exc:  # zstandard.ZstdError has no common base we can import lazily
            if type(exc).__name__ != "ZstdError":
                raise
            raise LayerError(f"{where}: bad zstd data ({exc})", entry=digest) from exc
        _apply(state, changes, digest, history)
        kept = sum(len(d) for f in state.values() for _l, d in f.versions())
        if kept > limits.max_kept_bytes:
            raise LayerLimitError(f"{where}: cataloged files total {kept} bytes, limit "
                                  f"{limits.max_kept_bytes}", entry=digest)
    return state
