"""Build a decision's inputs (kit.gates.inputs) from the appliance's DB and content store.

Everything a gate reads is copied into a canonical JSON input document here, so the
decision record can name it by digest and an evidence packet can carry it: the release
manifest and SBOM texts, the advisory records the matcher looked up (the snapshot
used), every VEX document imported, the policy pack (the newest kit's, else the default
pack in ``appliance/policy/default``), the environment configuration with freeze windows
and stop-the-line, the approvals so far, the previous environment's deployment facts and
the evaluation time.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import sqlite_utils

from appliance import environments, releases
from appliance.findings_index import SqliteAdvisoryIndex
from appliance.home import Home
from appliance.promotions.errors import NoPolicyPack
from appliance.releases import Release
from kit.gates.findings import sbom_components
from kit.gates.inputs import file_entry
from kit.timeutil import format_time

DEFAULT_PACK = Path(__file__).resolve().parents[1] / "policy" / "default"


class RecordingIndex:
    """An AdvisoryIndex that remembers every record it returned: the snapshot used."""

    def __init__(self, inner: SqliteAdvisoryIndex) -> None:
        self.inner = inner
        self.used: dict[tuple[str, str], Any] = {}

    def lookup(self, ecosystem: str, name: str) -> tuple[Any, ...]:
        found = self.inner.lookup(ecosystem, name)
        for adv in found:
            self.used[(adv.id, adv.source)] = adv
        return found


def advisory_input(db: sqlite_utils.Database, sboms: dict[str, Any]) -> dict[str, Any]:
    components, _ = sbom_components({"sboms": sboms})
    index = RecordingIndex(SqliteAdvisoryIndex(db.conn))
    for comp in components:
        for name in comp.lookup_names():
            index.lookup(comp.purl_type, name)
    records = [index.used[k].to_dict() for k in sorted(index.used)]
    sources = [{"source": s, "snapshot": snap} for s, snap in
               db.execute("SELECT source, max(snapshot) FROM advisory_snapshots GROUP BY source ORDER BY source")]
    return {"records": records, "sources": sources}


def vex_input(home: Home, db: sqlite_utils.Database) -> dict[str, Any]:
    rows = db.execute("SELECT min(path), sha256 FROM kit_entries WHERE path LIKE 'vex/%' GROUP BY sha256 "
                      "ORDER BY min(path), sha256").fetchall()
    return {"documents": [file_entry(path, releases.text_of(home, sha, path)) for path, sha in rows]}


def policy_input(home: Home, db: sqlite_utils.Database, pack: str | None = None) -> dict[str, Any]:
    """The newest kit's policy pack (or the default pack); with *pack*, the newest pack of the
    kits named *pack* (a workflow's ``gate`` step naming one; NoPolicyPack when none has)."""
    where, params = ("WHERE k.name = ? ", [pack]) if pack else ("", [])
    row = db.execute("SELECT p.kit_id, p.entries, k.name, k.sequence FROM policy_packs p JOIN kits k "
                     f"ON k.kit_id = p.kit_id {where}ORDER BY k.imported_at DESC, k.rowid DESC LIMIT 1",
                     params).fetchone()
    if row is None and pack:
        raise NoPolicyPack(f"no imported kit named {pack!r} carries a policy pack")
    if row is None:
        files = [file_entry(p.name, p.read_text("utf-8")) for p in sorted(DEFAULT_PACK.iterdir())
                 if p.suffix in (".rego", ".json")]
        return {"name": "default", "files": files}
    entries = json.loads(row[1])
    files = [file_entry(path.removeprefix("policy/"), releases.text_of(home, sha, path)) for path, sha in entries]
    return {"name": f"{row[2]}#{row[3]}", "kitId": row[0], "files": files}


def previous_input(db: sqlite_utils.Database, env: environments.EnvSpec, rel: Release) -> dict[str, Any]:
    prev = environments.previous(db, env)
    if prev is None:
        return {"environment": None}
    row = db.execute("SELECT id, state, coalesce(finished_at, started_at), health FROM deployments "
                     "WHERE environment = ? AND release = ? ORDER BY started_at DESC, id DESC LIMIT 1",
                     [prev.name, rel.label]).fetchone()
    dep = {"id": row[0], "state": row[1], "since": row[2], "health": row[3]} if row else None
    return {"environment": prev.name, "order": prev.order, "deployment": dep}


def approvals_input(db: sqlite_utils.Database, promotion_id: str | None, deployer: str | None) -> dict[str, Any]:
    rows = db.execute("SELECT user, decision, roles, comment, at FROM approvals WHERE promotion_id = ? "
                      "ORDER BY at, user", [promotion_id]) if promotion_id else []
    return {"approvals": [{"user": u, "decision": d, "roles": json.loads(r), "comment": c, "at": a}
                          for u, d, r, c, a in rows], "deployer": deployer}


def build(home: Home, db: sqlite_utils.Database, *, promotion: dict[str, Any], rel: Release,
          env: environments.EnvSpec, at: dt.datetime, deployer: str | None = None,
          pack: str | None = None) -> dict[str, Any]:
    """Every input of a decision for *promotion* (id, requester, reason) of *rel* to *env*
    (with the policy pack of the kits named *pack* when given)."""
    doc = releases.document(home, rel)
    sboms = {"documents": [file_entry(p, releases.text_of(home, sha, p)) for p, sha in
                           releases.sbom_entries(db, rel, doc)]}
    kit = {"kitId": rel.kit_id, "name": rel.kit_name, "sequence": rel.kit_sequence, "created": rel.kit_created}
    return {
        "promotion": {**promotion, "release": {"name": rel.name, "version": rel.version}, "environment": env.name,
                      "kit": kit},
        "release": file_entry(rel.path, releases.text_of(home, rel.sha256, rel.path)),
        "sboms": sboms,
        "advisories": advisory_input(db, sboms),
        "vex": vex_input(home, db),
        "policy": policy_input(home, db, pack),
        "environment": environments.config(db, env),
        "approvals": approvals_input(db, promotion.get("id"), deployer),
        "previous": previous_input(db, env, rel),
        "time": {"evaluatedAt": format_time(at)},
    }
