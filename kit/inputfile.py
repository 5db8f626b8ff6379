"""Reading a file a user names: a regular file only, never more than its kind's limit.

Every file the commands take from outside (trust roots, keys, kit.yaml, SBOMs, OSV, VEX and
CSAF documents, policy packs, evidence packets, import records, release documents) is read
through ``read_file``, so one place decides what a hostile path can cost:

- ``stat`` before ``open``: a FIFO, device, socket or folder (also behind a symbolic link,
  e.g. a link to ``/dev/zero``) is refused by name (``special-file``, exit 3), never opened;
- the open uses ``O_NONBLOCK`` (a FIFO swapped in after the ``stat`` cannot block it) and
  the opened descriptor is checked again with ``fstat``;
- a file whose size is over its kind's limit is refused before a byte is read
  (``limit-exceeded``, exit 3), and the read stops one byte past the limit whatever the
  size said (a file that grows while it is read);
- a missing or unreadable file is ``io-error`` (exit 4), naming the path.

The limits (defaults in ``LIMITS``, docs/cli.md "Limits") can be raised or lowered for
every kind at once with ``STELLA_MAX_INPUT_BYTES``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from kit.errors import BadUsage, InputTooLarge, KitFormatError, KitIOError, SpecialFile

LIMIT_VARIABLE = "STELLA_MAX_INPUT_BYTES"
_PIECE = 1 << 20

KIB, MIB = 1 << 10, 1 << 20

# Kind of file (as messages name it) -> default limit in bytes. Sized well above real
# documents (the largest real SBOMs and OSV dumps are tens of MB) and well below memory.
LIMITS: dict[str, int] = {
    "trust root": 1 * MIB,
    "key": 64 * KIB,
    "trust tiers": 1 * MIB,
    "kit.yaml": 1 * MIB,
    "release document": 16 * MIB,
    "compose template": 4 * MIB,
    "policy file": 4 * MIB,
    "evidence packet": 64 * MIB,
    "import record": 16 * MIB,
    "VEX document": 64 * MIB,
    "advisory file": 256 * MIB,
    "SBOM": 256 * MIB,
    "Docker config": 4 * MIB,
}

_KINDS = ((stat.S_ISDIR, "folder"), (stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "character device"),
          (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket"))


def file_type(mode: int) -> str:
    """What a non-regular file is, in words (``FIFO``, ``character device``…)."""
    return next((name for test, name in _KINDS if test(mode)), "special file")


def limit_for(kind: str) -> int:
    """The byte limit for a file of *kind*: ``STELLA_MAX_INPUT_BYTES`` when set, else the default.

    Raises:
        BadUsage: the variable is set but is not a positive integer.
    """
    text = os.environ.get(LIMIT_VARIABLE, "").strip()
    if text:
        if not text.isdigit() or int(text) < 1:
            raise BadUsage(f"{LIMIT_VARIABLE}={text[:40]!r}: must be a positive number of bytes")
        return int(text)
    return LIMITS[kind]


def _too_large(kind: str, path: Path, size: str, limit: int, fixed: bool = False) -> InputTooLarge:
    """*fixed*: the caller set the limit (a format's own bound), so the variable does not change it."""
    how = "a limit of the format" if fixed else f"{LIMIT_VARIABLE} sets another"
    return InputTooLarge(f"{kind} {path}: {size} is over the limit of {limit} bytes for a {kind} "
                         f"(not read; {how})", entry=str(path))


def _special(kind: str, path: Path, mode: int) -> SpecialFile:
    return SpecialFile(f"{kind} {path} is a {file_type(mode)}, not a regular file (not read)",
                           entry=str(path))


def read_file(path: Path, kind: str, limit: int | None = None) -> bytes:
    """The bytes of the regular file *path*, a file of *kind* (a key of ``LIMITS``).

    Raises:
        SpecialFile: *path* is (or links to) a FIFO, device, socket or folder.
        InputTooLarge: the file holds more than the limit.
        KitIOError: the file is missing or cannot be read.
    """
    fixed = limit is not None
    limit = limit_for(kind) if limit is None else limit
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise _special(kind, path, st.st_mode)
        if st.st_size > limit:
            raise _too_large(kind, path, f"{st.st_size} bytes", limit, fixed)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise KitIOError(f"{kind} {path}: no such file", entry=str(path)) from None
    except OSError as exc:
        raise KitIOError(f"cannot read {kind} {path}: {exc.strerror or exc}", entry=str(path)) from None
    try:
        return _read_bounded(fd, path, kind, limit, fixed)
    finally:
        os.close(fd)


def _read_bounded(fd: int, path: Path, kind: str, limit: int, fixed: bool = False) -> bytes:
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):          # swapped for something else after the stat
            raise _special(kind, path, mode)
        os.set_blocking(fd, True)
        pieces: list[bytes] = []
        total = 0
        while True:
            piece = os.read(fd, min(_PIECE, limit + 1 - total))
            if not piece:
                return b"".join(pieces)
            pieces.append(piece)
            total += len(piece)
            if total > limit:
                raise _too_large(kind, path, "more than the limit", limit, fixed)
    except OSError as exc:
        raise KitIOError(f"cannot read {kind} {path}: {exc.strerror or exc}", entry=str(path)) from None


def open_regular(path: Path, kind: str) -> BinaryIO:
    """*path* opened for reading when it is a regular file (for readers that stream, e.g. a kit).

    Raises:
        SpecialFile: *path* is (or links to) a FIFO, device, socket or folder; it is not read.
        KitIOError: missing or unreadable.
    """
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise _special(kind, path, st.st_mode)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise KitIOError(f"{kind} {path}: no such file", entry=str(path)) from None
    except OSError as exc:
        raise KitIOError(f"cannot read {kind} {path}: {exc.strerror or exc}", entry=str(path)) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _special(kind, path, mode)
        os.set_blocking(fd, True)
        return open(fd, "rb", closefd=True)
    except BaseException:
        os.close(fd)
        raise


def read_text(path: Path, kind: str, limit: int | None = None) -> str:
    """``read_file`` decoded as UTF-8.

    Raises:
        KitFormatError: not UTF-8 (exit 3), besides ``read_file``'s errors.
    """
    data = read_file(path, kind, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise KitFormatError(f"{kind} {path}: not UTF-8 text (byte {exc.start})", entry=str(path)) from None
