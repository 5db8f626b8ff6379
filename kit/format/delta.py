"""Delta kits: a base verified before it is trusted, and a delta checked against its base chain.

A delta carries the entries whose content (sha256) its base does not hold and lists the
rest as ``inherited``; its ``base`` names the base's kit id and sequence. The state a
base holds is every entry it carries plus everything it inherits itself, so a chain
full → Δ1 → Δ2 works (docs/kit-format.md, "Delta kits").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kit.errors import KitVerificationError
from kit.format.limits import KitLimits
from kit.format.manifest import Manifest
from kit.format.reader import KitReader, ReadResult
from kit.trust.root import TrustRoot


class BaseMismatch(KitVerificationError):
    """A delta kit's base is not the kit given as its base, or the bases do not hold what it inherits."""

    kind = "base-mismatch"


def held_digests(base: Manifest) -> frozenset[str]:
    """Every content digest an appliance holds once *base* is imported (carried and inherited)."""
    return frozenset(e.sha256 for e in (*base.entries, *base.inherited))


def base_ref(base: Manifest) -> dict[str, Any]:
    """The manifest's ``base`` field for a delta built on *base*."""
    return {"kitId": base.kit_id, "sequence": base.sequence}


def verify_base(path: Path, trust: TrustRoot, at: dt.datetime, limits: KitLimits = KitLimits()) -> ReadResult:
    """Verify a base kit completely (signatures, expiry, every entry) before anything uses it.

    Raises:
        KitError: the base's own failure (its class and exit code), its message naming the base.
    """
    result = KitReader(path, limits=limits).verify(trust=trust, at=at)
    if result.error is not None:
        error = result.error
        raise type(error)(f"base kit {path}: {error.message}", entry=error.entry)
    assert result.manifest is not None
    return result


def check_successor(base: Manifest, channel: str, sequence: int, where: str) -> None:
    """A delta for *channel* at *sequence* may build on *base*: same channel, a higher sequence.

    Raises:
        BaseMismatch: another channel, or a sequence not above the base's.
    """
    if base.channel != channel:
        raise BaseMismatch(f"{where}: the base kit is for channel {base.channel!r}, this kit for {channel!r}")
    if sequence <= base.sequence:
        raise BaseMismatch(f"{where}: sequence {sequence} is not above the base kit's sequence {base.sequence}")


def check_chain(delta: Manifest, bases: Sequence[Manifest]) -> list[Manifest]:
    """Follow *delta*'s base links through *bases* down to a full kit; return the chain (newest first).

    Every delta in the chain must find its named base (kit id and sequence) among *bases*,
    and every entry it inherits must be carried by a kit below it.

    Raises:
        BaseMismatch: a named base is not among *bases*, or an inherited entry is carried by none.
    """
    by_id = {m.kit_id: m for m in bases}
    chain = [delta]
    while chain[-1].base is not None:
        ref = chain[-1].base
        found = by_id.get(ref["kitId"])
        if found is None or found.sequence != ref["sequence"] or found in chain:
            given = ", ".join(f"{m.kit_id[:19]}… (sequence {m.sequence})" for m in bases) or "none"
            raise BaseMismatch(f"delta kit {chain[-1].name} sequence {chain[-1].sequence} names base "
                               f"{ref['kitId']} (sequence {ref['sequence']}), which is not the base given "
                               f"(given: {given})")
        chain.append(found)
    for i, kit in enumerate(chain[:-1]):
        below = {e.sha256 for m in chain[i + 1:] for e in m.entries}
        missing = next((e for e in kit.inherited if e.sha256 not in below), None)
        if missing is not None:
            raise BaseMismatch(f"delta kit {kit.name} sequence {kit.sequence} inherits {missing.path} "
                               f"({missing.sha256[:16]}…), which its base chain does not carry",
                               entry=missing.path)
    return chain
