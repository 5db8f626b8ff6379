"""``stella-verify replay``: re-run kit.gates.decide on a packet's own inputs.

The replayed record must equal the packet's decision record byte for byte (canonical
JSON). Otherwise the differences are named: which input no longer matches the digest the
record names, which gate changed verdict, reason or trace.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kit import canonical
from kit.evidence import packet
from kit.gates import decide
from kit.gates.diff import differences
from kit.inputfile import read_file


@dataclass(frozen=True)
class Replay:
    packet: packet.Packet
    identical: bool
    recorded: str                 # digest of the packet's record
    replayed: str                 # digest of the replayed record
    differences: tuple[str, ...]


def replay(data: bytes) -> Replay:
    """Raises KitFormatError when the packet (or one of its inputs) is malformed."""
    _env, p = packet.parse(data)
    decision = decide(p.inputs)
    replayed = decision.record()
    recorded_bytes = canonical.dumps(p.record)
    same = decision.record_bytes() == recorded_bytes
    carried = {name: canonical.digest(doc) for name, doc in p.inputs.items()}
    diffs = () if same else tuple(differences(p.record, replayed, carried))
    return Replay(p, same, "sha256:" + canonical.sha256_hex(recorded_bytes), decision.digest(), diffs)


def replay_file(path: Path) -> Replay:
    return replay(read_file(path, "evidence packet"))
