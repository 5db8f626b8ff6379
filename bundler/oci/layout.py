"""An OCI image layout directory: ``oci-layout``, ``index.json``, ``blobs/sha256/<hex>``.

Blobs are written to a temp file in the same directory, hashed and counted while they
stream, and renamed into place only when digest and size match, so nothing partial
or wrong ever sits under its digest. A blob already present is re-hashed once per
``OCILayout`` and then trusted (dedupe across images: it is not fetched again).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bundler.oci.errors import BadDigest, DigestMismatchError, SizeMismatchError

LAYOUT_VERSION = {"imageLayoutVersion": "1.0.0"}
REF_NAME = "org.opencontainers.image.ref.name"
IMAGE_NAME = "io.containerd.image.name"
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Descriptor:
    """An OCI content descriptor (the fields this project uses)."""

    media_type: str
    digest: str
    size: int
    platform: dict[str, str] | None = None
    annotations: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written into index.json."""
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest,
                               "size": self.size}
        if self.platform:
            out["platform"] = dict(self.platform)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


def file_digest(path: Path) -> str:
    """``sha256:<hex>`` of a file, read in chunks."""
    with path.open("rb") as fh:
        return "sha256:" + hashlib.file_digest(fh, "sha256").hexdigest()


class OCILayout:
    """Writes (and re-opens) an OCI image layout; ``index.json`` is rewritten atomically."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.blob_dir = self.root / "blobs" / "sha256"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self._verified: set[str] = set()
        self._atomic_write(self.root / "oci-layout", json.dumps(LAYOUT_VERSION).encode())
        index = self.root / "index.json"
        self._entries: list[dict[str, Any]] = (
            json.loads(index.read_bytes()).get("manifests", []) if index.is_file() else [])

    def blob_path(self, digest: str) -> Path:
        """Where a blob lives (``blobs/sha256/<hex>``)."""
        algo, _, hexdigest = digest.partition(":")
        if algo != "sha256" or len(hexdigest) != 64 or not all(
                c in "0123456789abcdef" for c in hexdigest):
            raise BadDigest(f"digest {digest!r} is not sha256:<64 hex>", entry=digest)
        return self.blob_dir / hexdigest

    def has_blob(self, digest: str, size: int | None = None) -> bool:
        """True if the blob is present with the right digest (and size); a bad copy is removed."""
        if digest in self._verified:
            return True
        path = self.blob_path(digest)
        if not path.is_file():
            return False
        if (size is not None and path.stat().st_size != size) or file_digest(path) != digest:
            path.unlink()  # corrupt from an earlier run: fetch it again
            return False
        self._verified.add(digest)
        return True

    def write_bytes(self, digest: str, data: bytes, *, what: str) -> None:
        """Store small content (a manifest or config) after checking its digest."""
        self.write_stream(digest, len(data), [data], what=what)

    def write_stream(self, digest: str, size: int, chunks: Iterable[bytes], *, what: str) -> None:
        """Stream *chunks* to ``blobs/sha256/<hex>``, verifying size and digest on the way.

        Raises:
            SizeMismatchError: more or fewer than *size* bytes arrived (stops early if more).
            DigestMismatchError: the bytes hash to another digest.
        """
        if self.has_blob(digest, size):
            return
        target = self.blob_path(digest)
        hasher, total = hashlib.sha256(), 0
        fd, tmp = tempfile.mkstemp(prefix=".partial-", dir=self.blob_dir)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    total += len(chunk)
                    if total > size:
                        raise SizeMismatchError(f"{what}: blob {digest} is longer than its "
                                                f"declared {size} bytes", entry=digest)
                    hasher.update(chunk)
                    out.write(chunk)
            if total != size:
                raise SizeMismatchError(f"{what}: blob {digest} has {total} bytes, its "
                                        f"descriptor says {size}", entry=digest)
            actual = "sha256:" + hasher.hexdigest()
            if actual != digest:
                raise DigestMismatchError(f"{what}: blob bytes hash to {actual}, expected "
                                          f"{digest}", entry=digest)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._verified.add(digest)

    def read_blob(self, digest: str) -> bytes:
        """Read a small blob (a manifest, index or config) back."""
        return self.blob_path(digest).read_bytes()

    def add_ref(self, descriptor: Descriptor) -> None:
        """Add (or replace, by ref name) an ``index.json`` entry and rewrite the file."""
        entry = descriptor.to_dict()
        name = entry.get("annotations", {}).get(REF_NAME)
        self._entries = [e for e in self._entries
                         if name is None or e.get("annotations", {}).get(REF_NAME) != name]
        self._entries.append(entry)
        self._entries.sort(key=lambda e: (e.get("annotations", {}).get(REF_NAME, ""),
                                          e["digest"]))
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                 "manifests": self._entries}
        self._atomic_write(self.root / "index.json",
                           json.dumps(index, sort_keys=True, separators=(",", ":")).encode())

    def refs(self) -> list[dict[str, Any]]:
        """The entries of ``index.json`` (copies)."""
        return [dict(e) for e in self._entries]

    @staticmethod
    def _atomic_write(path: Path, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(prefix=".partial-", dir=path.parent)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
