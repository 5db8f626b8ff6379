"""Sealing a deployment: version stickers, the evidence event and the stored packet.

A ``deployment`` packet (success) or ``rollback`` packet (failure) seals the decision
record that authorised the deployment plus an event: the deployment row, and per target
the lock file, the signed sticker, per-service results, timings and what was rolled back.
Packets are stored in the content store (``deploy_packets``) and ``stella evidence
export --type deployment|rollback`` returns the stored bytes.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from appliance import keys
from appliance.deploy.plan import ReleaseInfo
from appliance.deploy.records import store_blob
from appliance.deploy.targets import Target
from appliance.home import Home
from appliance.promotions import packets
from appliance.runs import evidence as runs_evidence
from appliance.store.db import transaction
from kit import __version__, canonical
from kit.deploy.sticker import make_sticker
from kit.timeutil import format_time, now

GENERATOR = f"stella {__version__}"


def sticker(home: Home, info: ReleaseInfo, deployment: dict[str, Any], target: Target, lock_hex: str) -> bytes:
    name, _, version = info.ref.partition("@")
    release = {"id": info.ref, "name": name, "version": version, "components": info.component_digests()}
    dep = {"id": deployment["id"], "promotion": deployment["promotion"], "environment": deployment["environment"],
           "target": target.name, "project": target.project, "startedAt": deployment["startedAt"],
           "finishedAt": format_time(now())}
    return make_sticker(release=release, deployment=dep, lock_sha256=lock_hex, generated_at=format_time(now()),
                        generator=GENERATOR, signer=keys.signer(home))


def event(db: sqlite_utils.Database, deployment_id: str, targets: list[dict[str, Any]],
          note: str | None = None) -> dict[str, Any]:
    doc = packets.deployment_event(db, deployment_id)
    doc["targets"] = targets
    if note:
        doc["note"] = note
    workflow = runs_evidence.of_deployment(db, deployment_id)
    if workflow is not None:
        doc["workflow"] = workflow
    return doc


def seal(home: Home, db: sqlite_utils.Database, promotion_id: str, deployment_id: str, packet_type: str,
         doc: dict[str, Any]) -> str:
    """Build, store and index the packet; returns its sha256 hex."""
    data = packets.export(home, db, promotion_id, packet_type=packet_type, event=doc)
    hexd = store_blob(home, data)
    with transaction(db):
        db.execute("INSERT OR REPLACE INTO deploy_packets VALUES (?, ?, ?, ?)",
                   [deployment_id, packet_type, hexd, format_time(now())])
    return hexd


def sticker_doc(data: bytes | None) -> Any:
    return canonical.loads(data) if data else None
