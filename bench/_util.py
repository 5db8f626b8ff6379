"""Helpers shared by the benchmarks: timing child processes with their peak RSS."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Run:
    seconds: float
    max_rss_mib: float


def timed(cmd: list[str] | str, *, shell: bool = False, env: dict[str, str] | None = None) -> Run:
    """Run a command to completion; wall time and the child's peak RSS (the whole pipeline for a shell)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, shell=shell, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            executable="/bin/bash" if shell else None)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"benchmark command failed: {cmd}\n{err}")
    return Run(seconds, usage.ru_maxrss / 1024)


def best(runs: list[Run]) -> Run:
    return min(runs, key=lambda r: r.seconds)


def warm(paths: list[Path]) -> None:
    """Read files once so every contender starts from the page cache."""
    for path in paths:
        with open(path, "rb") as fh:
            while fh.read(1 << 24):
                pass
