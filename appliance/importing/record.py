"""The signed import record of one import (format: docs/appliance.md, kit/evidence/import_record.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kit import canonical
from kit.crypto.keys import Signer
from kit.evidence.import_record import FORMAT_VERSION, RECORD_TYPE, sign_record
from kit.format.reader import Check, ReadResult
from kit.timeutil import format_time


def payload(*, import_id: str, time: str, actor: str, kit_path: Path, result: ReadResult,
            appliance_checks: list[Check], forced: bool, reason: str | None, new_blobs: int,
            bytes_written: int, audit_head: tuple[int, str], signer: Signer,
            kit_id: str | None = None) -> dict[str, Any]:
    m = result.manifest
    assert m is not None and result.trust_root is not None
    sigs = result.signatures
    return {
        "_type": RECORD_TYPE, "formatVersion": FORMAT_VERSION, "importId": import_id, "time": time,
        "actor": actor, "result": "imported", "forced": forced, "reason": reason,
        "kit": {"kitId": kit_id or m.kit_id, "name": m.name, "channel": m.channel, "sequence": m.sequence,
                "kind": m.kind, "base": m.base, "created": format_time(m.created),
                "expires": format_time(m.expires), "file": kit_path.name, "fileSize": kit_path.stat().st_size,
                "entries": len(m.entries), "inherited": len(m.inherited), "bytes": m.total_size},
        "trustRoot": {"version": result.trust_root.version, "digest": result.trust_root.digest},
        "signatures": {"valid": sorted(sigs.valid), "threshold": sigs.threshold} if sigs else None,
        "checks": [c.to_dict() for c in (*result.checks, *appliance_checks)],
        "content": {"newBlobs": new_blobs, "bytesWritten": bytes_written},
        "previousAuditEvent": {"seq": audit_head[0], "hash": audit_head[1]},
        "appliance": {"keyid": signer.keyid, "publicKey": signer.public_key.to_dict()},
    }


def sign(document: dict[str, Any], signer: Signer) -> tuple[bytes, str]:
    """(envelope bytes, ``sha256:`` of the payload)."""
    envelope = sign_record(document, signer)
    return envelope.to_bytes(), canonical.digest(document)
