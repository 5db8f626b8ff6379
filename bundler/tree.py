"""Input files of kit.yaml are regular files inside the tree they are named in.

Shared by attachments, policy packs and VEX documents (issue 17, principle 10). Only
``lstat``/``stat`` decide: a FIFO, device or socket is refused by name and never opened
(opening a FIFO blocks until a writer comes; ``/dev/zero`` never ends), and a symbolic
link is followed only when it stays inside the tree (a link to ``/etc/shadow`` is refused,
not packed into a kit). Links to folders are refused rather than silently skipped.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from bundler.errors import SpecError
from kit.inputfile import file_type


def _raise(exc: OSError) -> None:
    raise exc


def walk(folder: Path, key: str) -> list[Path]:
    """Files under *folder*, sorted by relative path; hidden files and folders skipped.

    Links to folders are not followed: each is returned, so :func:`regular_file` refuses it
    by name. An unreadable folder is a SpecError naming it (*key*: the kit.yaml key).
    """
    found = []
    try:
        for dirpath, dirnames, filenames in os.walk(folder, onerror=_raise):
            here = Path(dirpath)
            links = [d for d in dirnames if not d.startswith(".") and (here / d).is_symlink()]
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in links)
            found += [here / name for name in [*filenames, *links] if not name.startswith(".")]
    except OSError as exc:
        raise SpecError(f"{key}: cannot list {exc.filename or folder}: {exc.strerror}", entry=str(folder)) from None
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix().encode("utf-8"))


def regular_file(path: Path, tree: Path, key: str) -> Path:
    """*path* when it is a regular file, or a link to one inside *tree*; else a SpecError naming it."""
    try:
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            target = path.resolve(strict=True)
            if not target.is_relative_to(tree.resolve()):
                raise SpecError(f"{key}: {path} is a symbolic link to {target}, outside {tree}; an input is a "
                                "regular file inside the folder it is named in", entry=str(path))
            mode = target.stat().st_mode
    except FileNotFoundError:
        raise SpecError(f"{key}: {path} does not exist (or is a dangling link)", entry=str(path)) from None
    except (OSError, RuntimeError) as exc:        # RuntimeError: a symlink loop on older Pythons
        raise SpecError(f"{key}: cannot read {path}: {getattr(exc, 'strerror', None) or exc}",
                        entry=str(path)) from None
    if not stat.S_ISREG(mode):
        raise SpecError(f"{key}: {path} is a {file_type(mode)}, not a regular file", entry=str(path))
    return path


def is_folder(path: Path, key: str) -> bool:
    """Whether *path* itself (not what a link points to) is a folder; SpecError if it is gone."""
    try:
        return stat.S_ISDIR(path.lstat().st_mode)
    except OSError:
        raise SpecError(f"{key}: {path} does not exist (any more)", entry=str(path)) from None
