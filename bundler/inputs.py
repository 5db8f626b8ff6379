"""Turn kit.yaml's file inputs into kit entries: policy, VEX and attachments.

Policy packs and VEX documents are checked here, on the connected side (see
``bundler/sources``); attachments are carried as they are. Kit paths never depend on
where the inputs live on disk beyond their own names: a file keeps its base name under
its kind's folder, a folder keeps its name and relative layout. Walks are sorted.
"""

from __future__ import annotations

import os
import stat
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


_KINDS = ((stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "character device"),
          (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket"))


def _what(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "special file")


def _raise(exc: OSError) -> None:
    raise exc


def _walk(folder: Path) -> list[Path]:
    """Files under *folder*, sorted by relative path; hidden files and folders skipped.

    Links to folders are not followed: each is returned, so the caller refuses it by name.
    """
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, onerror=_raise):
        here = Path(dirpath)
        links = [d for d in dirnames if not d.startswith(".") and (here / d).is_symlink()]
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in links)
        found += [here / name for name in [*filenames, *links] if not name.startswith(".")]
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix().encode("utf-8"))


def _regular_file(path: Path, tree: Path) -> Path:
    """*path* when it is a regular file, or a link to one inside *tree*; else a SpecError naming it.

    Only ``lstat``/``stat`` are used: a FIFO, device or socket is never opened (opening a FIFO
    blocks until a writer comes), and a link never reaches outside the folder it was given in.
    """
    try:
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            target = path.resolve(strict=True)
            if not target.is_relative_to(tree.resolve()):
                raise SpecError(f"attachments: {path} is a symbolic link to {target}, outside {tree}; "
                                "an attachment is a regular file inside the folder it is named in",
                                entry=str(path))
            mode = target.stat().st_mode
    except FileNotFoundError:
        raise SpecError(f"attachments: {path} does not exist (or is a dangling link)", entry=str(path)) from None
    except (OSError, RuntimeError) as exc:        # RuntimeError: a symlink loop on older Pythons
        raise SpecError(f"attachments: cannot read {path}: {getattr(exc, 'strerror', None) or exc}",
                        entry=str(path)) from None
    if not stat.S_ISREG(mode):
        raise SpecError(f"attachments: {path} is a {_what(mode)}, not a regular file", entry=str(path))
    return path


def _attachments(paths: tuple[Path, ...], home: Path) -> list[EntrySource]:
    """Each named file, or each file under a named folder; links must stay inside (*home*: kit.yaml's folder)."""
    out = []
    for path in paths:
        try:
            folder = stat.S_ISDIR(path.lstat().st_mode)
        except OSError:
            raise SpecError(f"attachments: {path} does not exist (any more)", entry=str(path)) from None
        try:
            files = [(_regular_file(path, home), path.name)] if not folder else \
                [(_regular_file(f, path), f"{path.name}/{f.relative_to(path).as_posix()}") for f in _walk(path)]
        except OSError as exc:
            raise SpecError(f"attachments: cannot list {exc.filename or path}: {exc.strerror}",
                            entry=str(path)) from None
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
               + vex_entries(list(spec.vex)) + _attachments(spec.attachments, spec.path.parent))
    seen: dict[str, EntrySource] = {}
    for src in sources:
        if src.path in seen:
            raise SpecError(f"{seen[src.path].file} and {src.file} would both be carried as {src.path}; "
                            "rename one")
        seen[src.path] = src
    return sources
