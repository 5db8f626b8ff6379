"""Turn kit.yaml inputs into kit entries: kit paths and media types, by kind.

Kit paths never depend on where the inputs live on disk beyond their own names:
a file keeps its base name under its kind's folder, a folder keeps its name and
relative layout. Walks are sorted, so the result is the same on every machine.
"""

from __future__ import annotations

import os
from pathlib import Path

from bundler.errors import SpecError
from bundler.spec import KitSpec
from kit.format import EntrySource

# Fixed tables (never the system's mimetypes database, which varies between machines).
ATTACHMENT_TYPES = {
    ".pdf": "application/pdf", ".txt": "text/plain", ".md": "text/markdown", ".json": "application/json",
    ".yaml": "application/yaml", ".yml": "application/yaml", ".tar": "application/x-tar",
    ".gz": "application/gzip", ".tgz": "application/gzip", ".zip": "application/zip",
    ".png": "image/png", ".jpg": "image/jpeg", ".html": "text/html", ".csv": "text/csv",
    ".xml": "application/xml", ".zst": "application/zstd",
}
ADVISORY_TYPES = {".json": "application/vnd.osv+json", ".zip": "application/zip",
                  ".ndjson": "application/x-ndjson", ".jsonl": "application/x-ndjson"}
VEX_TYPES = {".json": "application/vnd.openvex+json"}
POLICY_TYPES = {".rego": "application/vnd.stella.rego"}
POLICY_DATA = "data.json"


def _walk(folder: Path) -> list[Path]:
    """Regular files under *folder*, sorted by relative path; hidden files and folders skipped."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith("."):
                found.append(Path(dirpath) / name)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix().encode("utf-8"))


def _typed(path: Path, types: dict[str, str], kind: str) -> str:
    media = types.get(path.suffix.lower())
    if media is None:
        raise SpecError(f"{kind}: {path} is not a {', '.join(sorted(types))} file")
    return media


def _sources(paths: tuple[Path, ...], prefix: str, types: dict[str, str] | None) -> list[EntrySource]:
    out = []
    for path in paths:
        if not path.exists():
            raise SpecError(f"{prefix}: {path} does not exist (any more)")
        files = [(path, path.name)] if path.is_file() else \
            [(f, f"{path.name}/{f.relative_to(path).as_posix()}") for f in _walk(path)]
        for file, rel in files:
            media = _typed(file, types, prefix) if types else \
                ATTACHMENT_TYPES.get(file.suffix.lower(), "application/octet-stream")
            out.append(EntrySource(f"{prefix}/{rel}", media, file=file))
    return out


def _policy(folder: Path | None) -> list[EntrySource]:
    if folder is None:
        return []
    out = []
    for file in _walk(folder):
        rel = file.relative_to(folder).as_posix()
        if rel == POLICY_DATA:
            media = "application/json"
        else:
            media = _typed(file, POLICY_TYPES, "policy (only .rego files and data.json)")
        out.append(EntrySource(f"policy/{rel}", media, file=file))
    return out


def collect(spec: KitSpec) -> list[EntrySource]:
    """Every entry the spec asks for.

    Raises:
        SpecError: an input of the wrong kind, or two inputs landing on one kit path.
    """
    sources = (_policy(spec.policy) + _sources(spec.advisories, "advisories", ADVISORY_TYPES)
               + _sources(spec.vex, "vex", VEX_TYPES) + _sources(spec.attachments, "attachments", None))
    seen: dict[str, EntrySource] = {}
    for src in sources:
        if src.path in seen:
            raise SpecError(f"{seen[src.path].file} and {src.file} would both be carried as {src.path}; "
                            "rename one")
        seen[src.path] = src
    return sources
