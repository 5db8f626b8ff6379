"""Turn kit.yaml's file inputs into kit entries: policy, VEX and attachments.

Policy packs and VEX documents are checked here, on the connected side (see
``bundler/sources``); attachments are carried as they are. Kit paths never depend on
where the inputs live on disk beyond their own names: a file keeps its base name under
its kind's folder, a folder keeps its name and relative layout. Walks are sorted.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from bundler.errors import SpecError
from bundler.sources import policy_entries, vex_entries
from bundler.spec import KitSpec
from kit.format import EntrySource

# Fixed table (never the system's mimetypes database, which varies between machines).
ATTACHMENT_TYPES = {
    ".pdf": "application/pdf", ".txt": "text/plain", ".md": "text/markdown", ".json": "application/json",
    ".yaml": "application/yaml", ".yml": "application/yaml", ".tar": "application/x-tar",
    ".gz": "application/gzip", ".tgz": "application/gzip", ".zip": "application/zip",
    ".png": "image/png", ".jpg": "image/jpeg", ".html": "text/html", ".csv": "text/csv",
    ".xml": "application/xml", ".zst": "application/zstd",
}


def _walk(folder: Path) -> list[Path]:
    """Regular files under *folder*, sorted by relative path; hidden files and folders skipped."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found += [Path(dirpath) / name for name in filenames if not name.startswith(".")]
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix().encode("utf-8"))


def _attachments(paths: tuple[Path, ...]) -> list[EntrySource]:
    out = []
    for path in paths:
        if not path.exists():
            raise SpecError(f"attachments: {path} does not exist (any more)")
        files = [(path, path.name)] if path.is_file() else \
            [(f, f"{path.name}/{f.relative_to(path).as_posix()}") for f in _walk(path)]
        for file, rel in files:
            media = ATTACHMENT_TYPES.get(file.suffix.lower(), "application/octet-stream")
            out.append(EntrySource(f"attachments/{rel}", media, file=file))
    return out


def collect(spec: KitSpec, warn: Callable[[str], None] | None = None) -> list[EntrySource]:
    """Policy, VEX and attachment entries (advisories and images are collected apart).

    Raises:
        SpecError: an input of the wrong kind or content, or two inputs on one kit path.
    """
    sources = ((policy_entries(spec.policy, warn=warn) if spec.policy else [])
               + vex_entries(list(spec.vex)) + _attachments(spec.attachments))
    seen: dict[str, EntrySource] = {}
    for src in sources:
        if src.path in seen:
            raise SpecError(f"{seen[src.path].file} and {src.file} would both be carried as {src.path}; "
                            "rename one")
        seen[src.path] = src
    return sources
