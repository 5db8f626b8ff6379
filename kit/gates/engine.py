"""Loading the native Rego engine (regopy: rego-cpp with the snmalloc allocator) safely.

snmalloc reserves a very large range of address space (over 128 GiB) when the library
loads, and aborts the whole process when it cannot ("Failed to initialise snmalloc",
SIGABRT) — under ``ulimit -v``, for one. So nothing imports regopy at start-up (a
command that needs no policy never loads it), and before the first load in a process
with an address-space limit the engine is tried in a separate process: if it cannot
start, that is an ``engine-unavailable`` error (exit 4) naming the limit — never a
crashed command, and never a verdict (a gate that FAILs because the engine could not
start would make ``stella-verify replay`` report a valid packet as DIFFERENT).
"""

from __future__ import annotations

import importlib
import resource
import subprocess
import sys
from types import ModuleType

from kit.errors import EngineUnavailable

_READY = False


def address_space_limit() -> int | None:
    """The process's soft ``RLIMIT_AS`` in bytes (``ulimit -v``), or None when unlimited."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY else soft


def ensure_engine() -> None:
    """Raise :class:`EngineUnavailable` when regopy cannot be loaded in this process.

    Free when no address-space limit is set (nothing is tried); otherwise one short child
    process, once per process.
    """
    global _READY
    if _READY or "regopy" in sys.modules:
        return
    limit = address_space_limit()
    if limit is not None:
        try:
            probe = subprocess.run([sys.executable, "-c", "import regopy"], capture_output=True, timeout=60,
                                   check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EngineUnavailable(f"the Rego engine (regopy) could not be tried: {exc}") from None
        if probe.returncode != 0:
            said = probe.stderr.decode("utf-8", "replace").strip().splitlines()
            raise EngineUnavailable(
                f"the Rego engine (regopy) cannot start under the address-space limit of {limit // (1 << 20)} MiB "
                f"(ulimit -v): {said[-1] if said else f'exit status {probe.returncode}'}; its allocator reserves "
                "over 128 GiB of virtual address space, so remove the limit (ulimit -v unlimited) for commands "
                "that evaluate policy")
    _READY = True


def load_regopy() -> ModuleType:
    """The regopy module, after :func:`ensure_engine`."""
    ensure_engine()
    try:
        return importlib.import_module("regopy")
    except ImportError as exc:
        raise EngineUnavailable(f"the Rego engine (regopy) is not installed: {exc}") from None
