"""Reading CSAF and CycloneDX VEX input files: walked in a fixed order, size-checked first.

A document is parsed whole (CSAF cross-references products across the file), so its
size is checked with ``stat`` before a byte is read: a file over the limit is refused,
never loaded. Checking and mapping a CSAF document peaks at about 13 times its size in
memory (measured: 54 MB for 4.2 MB), so the default, 64 MiB, bounds a build at under 1 GB;
``STELLA_BUNDLER_MAX_DOCUMENT_BYTES`` raises or lowers it (docs/kit-yaml.md).
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
from kit.inputfile import read_file

MAX_DOCUMENT_BYTES = 64 << 20
LIMIT_VARIABLE = "STELLA_BUNDLER_MAX_DOCUMENT_BYTES"


def document_limit() -> int:
    """The size limit for one CSAF / CycloneDX document: the variable when set, else the default.

    Raises:
        SpecError: the variable is set but is not a positive integer.
    """
    text = os.environ.get(LIMIT_VARIABLE, "").strip()
    if not text:
        return MAX_DOCUMENT_BYTES
    if not text.isdigit() or int(text) < 1:
        raise SpecError(f"{LIMIT_VARIABLE}={text!r}: must be a positive number of bytes")
    return int(text)


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


def read_document(file: Path, label: str, limit: int) -> tuple[bytes, Any]:
    """(bytes, parsed JSON) of one document, refused by size before it is read.

    Raises:
        SpecError: *label* (``KIND: PATH``) then why: too large, unreadable, not JSON.
    """
    try:
        size = file.stat().st_size
        if size > limit:
            raise SpecError(f"{label}: {size} bytes is over the limit of {limit} bytes for one document "
                            f"(nothing was read; {LIMIT_VARIABLE} sets the limit)", entry=label)
        data = read_file(file, "document", limit)
    except OSError as exc:
        raise SpecError(f"{label}: cannot read: {exc.strerror}", entry=label) from None
    try:
        return data, canonical.loads(data, allow_floats=True)
    except canonical.CanonicalJSONError as exc:
        raise SpecError(f"{label}: {exc}", entry=label) from None


def documents(path: Path, written: str, kind: str, limit: int | None = None) -> Iterator[InputDocument]:
    """Every document under one kit.yaml input, read and parsed, in sorted order.

    Raises:
        SpecError: the input holds no .json file, or a file is too large, unreadable or not JSON.
    """
    limit = document_limit() if limit is None else limit
    files = walk_json(path)
    if not files:
        raise SpecError(f"{kind}: {written} holds no .json document", entry=written)
    for file, relative in files:
        name = written if path.is_file() else f"{written.rstrip('/')}/{relative.split('/', 1)[1]}"
        data, doc = read_document(file, f"{kind}: {name}", limit)
        yield InputDocument(name, relative, file, data, doc)
