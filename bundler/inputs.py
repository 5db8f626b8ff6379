"""Turn kit.yaml's file inputs into kit entries: policy, VEX, attachments and workflow templates.

Policy packs and VEX documents are checked here, on the connected side (see
``bundler/sources``); attachments are carried as they are. Kit paths never depend on
where the inputs live on disk beyond their own names: a file keeps its base name under
its kind's folder, a folder keeps its name and relative layout. Walks are sorted.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bundler import tree
from bundler.errors import SpecError
from bundler.sources import policy_entries, vex_entries
from bundler.sources.workflows import workflow_entries
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


def _attachments(paths: tuple[Path, ...], home: Path) -> list[EntrySource]:
    """Each named file, or each file under a named folder; links must stay inside (*home*: kit.yaml's folder)."""
    out = []
    for path in paths:
        files = [(tree.regular_file(path, home, "attachments"), path.name)] \
            if not tree.is_folder(path, "attachments") else \
            [(tree.regular_file(f, path, "attachments"), f"{path.name}/{f.relative_to(path).as_posix()}")
             for f in tree.walk(path, "attachments")]
        for file, rel in files:
            media = ATTACHMENT_TYPES.get(file.suffix.lower(), "application/octet-stream")
            out.append(EntrySource(f"attachments/{rel}", media, file=file))
    return out


def collect(spec: KitSpec, warn: Callable[[str], None] | None = None) -> list[EntrySource]:
    """Policy, VEX, attachment and workflow entries (advisories and images are collected apart).

    Raises:
        SpecError: an input of the wrong kind or content, or two inputs on one kit path.
    """
    home = spec.path.parent
    for item in spec.vex:                      # never opened unless a regular file inside the tree
        if tree.is_folder(item.path, "vex"):   # a folder of documents (OpenVEX, CSAF VEX): each file checked
            for found in tree.walk(item.path, "vex"):
                tree.regular_file(found, item.path, "vex")
        else:
            tree.regular_file(item.path, home, "vex")
    sources = ((policy_entries(spec.policy, warn=warn) if spec.policy else [])
               + vex_entries(list(spec.vex)) + _attachments(spec.attachments, home)
               + workflow_entries(spec.workflows, home))
    seen: dict[str, EntrySource] = {}
    for src in sources:
        if src.path in seen:
            raise SpecError(f"{seen[src.path].file} and {src.file} would both be carried as {src.path}; "
                            "rename one")
        seen[src.path] = src
    return sources
