"""Evidence packets from stored decisions (kit.evidence.packet; docs/evidence.md).

``release_decision``: the promotion's latest decision record (or a named one) and its
inputs. ``deployment`` / ``rollback``: the decision that authorised the deployment plus an
``event`` document (the deployment's facts), for deploy (issue 7) to call. The same
stored record always yields the same bytes.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from appliance import audit, keys
from appliance.home import Home
from appliance.promotions import store
from appliance.promotions.errors import NoDecision, NoDeployment, NoRunPacket, UnknownDeployment
from appliance.store.db import transaction
from kit import canonical
from kit.evidence import packet


def _record(db: sqlite_utils.Database, promotion_id: str, digest: str | None, purpose: str | None) -> dict[str, Any]:
    store.get(db, promotion_id)
    if digest:
        return store.decision(db, digest)
    sql = "SELECT record FROM decision_records WHERE promotion_id = ?"
    args: list[Any] = [promotion_id]
    if purpose:
        sql += " AND purpose = ?"
        args.append(purpose)
    row = db.execute(sql + " ORDER BY created_at DESC, rowid DESC LIMIT 1", args).fetchone()
    if row is None:
        raise NoDecision(f"{promotion_id} has no {purpose or ''} decision record".replace("  ", " "))
    return store.loads_record(row[0])


def deployment_event(db: sqlite_utils.Database, deployment_id: str) -> dict[str, Any]:
    row = db.execute("SELECT id, promotion_id, environment, release, state, deployer, started_at, finished_at, "
                     "health, detail FROM deployments WHERE id = ?", [deployment_id]).fetchone()
    if row is None:
        raise UnknownDeployment(f"unknown deployment {deployment_id}")
    import json
    keys_ = ("id", "promotion", "environment", "release", "state", "deployer", "startedAt", "finishedAt", "health")
    return {"at": row[7] or row[6], "deployment": {**dict(zip(keys_, row[:9])), "detail": json.loads(row[9])}}


def stored_packet(db: sqlite_utils.Database, promotion_id: str, packet_type: str) -> str | None:
    """The stored packet of the promotion's latest deployment, if deploy wrote one."""
    row = db.execute("SELECT p.sha256 FROM deploy_packets p JOIN deployments d ON d.id = p.deployment_id "
                     "WHERE d.promotion_id = ? AND p.packet_type = ? ORDER BY d.id DESC LIMIT 1",
                     [promotion_id, packet_type]).fetchone()
    return row[0] if row else None


def export(home: Home, db: sqlite_utils.Database, promotion_id: str, *, packet_type: str = "release_decision",
           decision: str | None = None, event: dict[str, Any] | None = None) -> bytes:
    """The packet's bytes. For deployment/rollback without *event*, the promotion's latest
    deployment is the event and its ``deploy`` decision the record. ``workflow_run``: the packet
    the promotion's run sealed when it ended (appliance/runs/evidence.py)."""
    if packet_type == "workflow_run":
        row = db.execute("SELECT id, packet FROM runs WHERE promotion_id = ?", [promotion_id]).fetchone()
        if row is None or row[1] is None:
            store.get(db, promotion_id)
            raise NoRunPacket(f"{promotion_id} has no ended workflow run" + (f" ({row[0]} is running)" if row
                                                                              else ""))
        from appliance.store.blobs import BlobStore
        return BlobStore(home.blobs).path(row[1]).read_bytes()
    if packet_type != "release_decision" and event is None and decision is None:
        from appliance.store.blobs import BlobStore
        stored = stored_packet(db, promotion_id, packet_type)
        if stored is not None:
            return BlobStore(home.blobs).path(stored).read_bytes()
    if packet_type != "release_decision" and event is None:
        row = db.execute("SELECT id FROM deployments WHERE promotion_id = ? ORDER BY id DESC LIMIT 1",
                         [promotion_id]).fetchone()
        if row is None:
            raise NoDeployment(f"{promotion_id} has no deployment")
        event = deployment_event(db, row[0])
    purpose = "deploy" if packet_type != "release_decision" and decision is None else None
    record = _record(db, promotion_id, decision, purpose)
    inputs = store.input_documents(db, record)
    return packet.build(packet_type, record, inputs, keys.signer(home), event)


def export_recorded(home: Home, db: sqlite_utils.Database, promotion_id: str, actor: str, *,
                    packet_type: str = "release_decision", decision: str | None = None) -> tuple[bytes, str]:
    """:func:`export` for a person (``stella evidence export``, ``GET …/evidence``): the packet's
    bytes and ``sha256:`` digest, the export recorded in the audit log."""
    data = export(home, db, promotion_id, packet_type=packet_type, decision=decision)
    digest = "sha256:" + canonical.sha256_hex(data)
    with transaction(db):
        audit.append(db, actor, "evidence.export", {"promotion": promotion_id, "type": packet_type, "packet": digest})
    return data, digest
