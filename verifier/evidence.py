"""``stella-verify evidence``: an evidence packet's signature and every digest in it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kit.crypto import load_public_key_file
from kit.evidence import packet
from kit.inputfile import read_file


def verify_packet(path: Path, key_path: Path) -> tuple[packet.Packet, list[str]]:
    """(packet, checked lines). Raises KitFormatError / KitVerificationError."""
    key = load_public_key_file(key_path)
    data = read_file(path, "evidence packet")
    checked = packet.verify(data, key)
    return checked, [f"signature appliance key {key.keyid[:16]}…", *packet.check_digests(checked)]


def summary(p: packet.Packet) -> dict[str, Any]:
    rec = p.record
    return {"packetType": p.packet_type, "subject": rec.get("subject"), "verdict": rec.get("verdict"),
            "evaluatedAt": rec.get("evaluatedAt"), "blocking": rec.get("blocking"),
            "gates": [{"name": g.get("name"), "verdict": g.get("verdict"), "reason": g.get("reason")}
                      for g in rec.get("gates") or []]}
