"""Verify a kit file against a trust root chain, offline."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path

from kit.errors import KitError
from kit.format import KitLimits, KitReader, ReadResult
from kit.format.reader import Check
from kit.trust.root import TrustRoot, read_root_file, verify_chain


def load_trust(paths: Sequence[Path], at: dt.datetime) -> TrustRoot:
    """Read the trust root files and verify them as one chain; return the newest."""
    return verify_chain([read_root_file(p) for p in paths], at)


def verify_kit(kit: Path, trust_paths: Sequence[Path], at: dt.datetime, channel: str | None = None,
               limits: KitLimits = KitLimits(), progress: Callable[[int], None] | None = None) -> ReadResult:
    """Every check on *kit*; trust problems are reported in the result like any other."""
    try:
        root = load_trust(trust_paths, at)
    except KitError as exc:
        result = ReadResult(str(kit), error=exc)
        result.checks.append(Check("trust-root", False, exc.one_line()))
        return result
    result = KitReader(kit, limits=limits).verify(trust=root, at=at, channel=channel, progress=progress)
    result.checks.insert(0, Check("trust-root", True, f"version {root.version} {root.digest}, "
                                                      f"chain of {len(trust_paths)}"))
    return result
