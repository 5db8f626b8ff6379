"""Who executes a step attempt: this process, named so another can tell whether it still lives.

A lease owner is ``host:pid:start`` (the process's start time in clock ticks since boot,
from /proc, so a recycled pid is not mistaken for the owner). The appliance is one host: a
lease whose owner is gone from this host is dead at once — a SIGKILLed ``stella`` leaves
its steps to the next ``stella run resume`` without waiting for an expiry. The expiry is
the backstop for an owner this host cannot see (another host sharing the home, never
supported, or a frozen process): past it, the lease is dead too.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from functools import cache
from pathlib import Path

from kit.timeutil import parse_time


def _start_ticks(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes().decode("ascii", "replace")
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its last ')'
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else None


@cache
def me() -> str:
    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{_start_ticks(pid) or 0}"


def alive(owner: str | None, expires: str | None, now: dt.datetime) -> bool:
    """Whether the lease *owner* holds (until *expires*) still counts at *now*."""
    if owner is None:
        return False
    if owner == me():
        return True
    host, _, rest = owner.partition(":")
    pid_text, _, ticks = rest.partition(":")
    if host == socket.gethostname() and pid_text.isdigit():
        return _start_ticks(int(pid_text)) == ticks
    return expires is not None and parse_time(expires) > now
