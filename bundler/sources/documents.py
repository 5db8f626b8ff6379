"""Reading CSAF and CycloneDX VEX input files: walked in a fixed order, size-checked first.

A document is parsed whole (CSAF cross-references products across the file), so its
size is checked with ``stat`` before a byte is read: a file over ``MAX_DOCUMENT_BYTES``
is refused, never loaded. The largest vendor CSAF files (Red Hat's kernel VEX) are tens
of megabytes; 256 MiB leaves room and bounds memory.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bundler.errors import SpecError
from kit import canonical

MAX_DOCUMENT_BYTES = 256 << 20


@dataclass(frozen=True)
class InputDocument:
    """One input file, read and parsed."""

    name: str          # as kit.yaml wrote the input, plus the path inside a folder (for messages)
    relative: str      # the input's own name plus the path inside it (for kit paths)
    file: Path
    data: bytes
    doc: Any

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def walk_json(path: Path) -> list[tuple[Path, str]]:
    """(file, path relative to *path*'s parent) of *path* or of every ``*.json`` under it, sorted;
    hidden files and folders skipped."""
    if path.is_file():
        return [(path, path.name)]
    found = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [Path(dirpath) / n for n in filenames if n.lower().endswith(".json") and not n.startswith(".")]
    return [(f, f"{path.name}/{f.relative_to(path).as_posix()}")
            for f in sorted(found, key=lambda f: f.relative_to(path).as_posix().encode("utf-8"))]


def read_document(file: Path, label: str, limit: int = MAX_DOCUMENT_BYTES) -> tuple[bytes, Any]:
    """(bytes, parsed JSON) of one document, refused by size before it is read.

    Raises:
        SpecError: *label* (``KIND: PATH``) then why: too large, unreadable, not JSON.
    """
    try:
        size = file.stat().st_size
        if size > limit:
            raise SpecError(f"{label}: {size} bytes is over the limit of {limit} bytes for one document; "
                            "split it (nothing was read)", entry=label)
        data = file.read_bytes()
    except OSError as exc:
        raise SpecError(f"{label}: cannot read: {exc.strerror}", entry=label) from None
    try:
        return data, canonical.loads(data, allow_floats=True)
    except canonical.CanonicalJSONError as exc:
        raise SpecError(f"{label}: {exc}", entry=label) from None


def documents(path: Path, written: str, kind: str, limit: int = MAX_DOCUMENT_BYTES) -> Iterator[InputDocument]:
    """Every document under one kit.yaml input, read and parsed, in sorted order.

    Raises:
        SpecError: the input holds no .json file, or a file is too large, unreadable or not JSON.
    """
    files = walk_json(path)
    if not files:
        raise SpecError(f"{kind}: {written} holds no .json document", entry=written)
    for file, relative in files:
        name = written if path.is_file() else f"{written.rstrip('/')}/{relative.split('/', 1)[1]}"
        data, doc = read_document(file, f"{kind}: {name}", limit)
        yield InputDocument(name, relative, file, data, doc)
