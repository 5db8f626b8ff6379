"""The import lock: ``fcntl.flock`` on ``home/import.lock``, released by the kernel on exit.

A second import waits up to ``wait`` seconds, then fails with a conflict (exit 5) that
names the holder's pid; a killed holder never leaves a stale lock behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from appliance.errors import Locked


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return f" (pid {text})" if text else ""
    except OSError:
        return ""


def try_lock(path: Path) -> int | None:
    """The locked fd, or None when another process holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


@contextlib.contextmanager
def exclusive(path: Path, wait: float = 0.0, what: str = "another import") -> Iterator[None]:
    """Hold the lock for the block.

    Raises:
        ConflictError: still held by someone else after *wait* seconds.
    """
    deadline = time.monotonic() + max(0.0, wait)
    while True:
        fd = try_lock(path)
        if fd is not None:
            break
        if time.monotonic() >= deadline:
            probe = os.open(path, os.O_RDONLY)
            try:
                holder = _holder(probe)
            finally:
                os.close(probe)
            raise Locked(f"{what} is running on this appliance{holder}; waited {wait:g}s "
                         "(retry later or pass --wait SECONDS)")
        time.sleep(0.1)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
