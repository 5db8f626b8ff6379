"""What each console page shows, read through the appliance's own functions (the ones the
CLI's ``whereis``, ``env list``, ``promotion show``, ``release show``, ``findings``,
``kits`` and ``audit`` commands call). Read-only: no rule is decided here."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import sqlite_utils

from appliance import audit, environments, releases
from appliance.deploy import inspect
from appliance.home import Home
from appliance.kits import listing as kit_listing
from appliance.pipeline import overview
from appliance.promotions import states, store
from appliance.promotions.store import Promotion
from appliance.release_findings import release_findings
from appliance.status import advisory_sources
from kit.errors import StellaError
from kit.findings.finding import severity_rank
from kit.gates.findings import sbom_components
from kit.gates.inputs import file_entry
from kit.timeutil import now


def _approvals_needed(db: sqlite_utils.Database, p: Promotion) -> tuple[int, int]:
    spec = environments.get(db, p.environment)
    approved = sum(1 for a in store.approvals(db, p.id) if a["decision"] == "approve")
    return approved, spec.required_approvals


def promotion_summary(db: sqlite_utils.Database, p: Promotion) -> dict[str, Any]:
    latest = store.latest_decision(db, p.id)
    got, need = _approvals_needed(db, p)
    return {**p.to_dict(), "approved": got, "required": need,
            "gates": latest[1]["verdict"] if latest else None,
            "blocking": latest[1].get("blocking", []) if latest else []}


def pipeline(db: sqlite_utils.Database) -> dict[str, Any]:
    """The pipeline as ``GET /api/v1/environments`` gives it (appliance.pipeline), with each
    target's health as its last deployment recorded it."""
    envs = overview(db, now())
    for env in envs:
        for t in env["targets"]:
            row = db.execute("SELECT deployer, health FROM deployments WHERE id = ?", [t["deployment"]]).fetchone()
            t["deployer"], t["health"] = (row[0], _health(row[1])) if row else (None, None)
        for p in env["pending"]:
            p["blocking"] = [g["name"] for g in p["gates"] if g["verdict"] == "fail"]
    return {"environments": envs, "stop": environments.stop_state(db)}


def _health(text: str | None) -> str | None:
    """'healthy' / 'unhealthy' from a deployment's health column (JSON or a word)."""
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return text
    if isinstance(value, dict):
        ok = value.get("ok", value.get("healthy"))
        if isinstance(ok, bool):
            return "healthy" if ok else "unhealthy"
        state = value.get("state") or value.get("status")
        return str(state) if state else None
    return str(value)


def release_list(db: sqlite_utils.Database) -> list[releases.Release]:
    return releases.listing(db)


def release_choices(db: sqlite_utils.Database, limit: int = 200) -> list[str]:
    """NAME@VERSION of the newest imported version of each release name (the request form's
    suggestions: one per name, not every version ever imported)."""
    rows = db.execute("SELECT r.name, r.version, max(k.imported_at) FROM releases r JOIN kits k ON k.kit_id = r.kit_id "
                      "WHERE r.path LIKE '%.json' AND r.version IS NOT NULL GROUP BY r.name ORDER BY r.name LIMIT ?",
                      [limit])
    return [f"{name}@{version}" for name, version, _ in rows]


def release_page(home: Home, db: sqlite_utils.Database, ref: str) -> dict[str, Any]:
    """Components by digest, SBOM summary per ecosystem, findings with severity and VEX."""
    rel = releases.resolve(db, ref)
    doc = releases.document(home, rel)
    entries = releases.sbom_entries(db, rel, doc)
    sboms = {"documents": [file_entry(p, releases.text_of(home, sha, p)) for p, sha in entries]}
    comps, problems = sbom_components({"sboms": sboms})
    ecosystems = Counter(c.purl_type for c in comps)
    outcome = release_findings(home, db, rel.label)
    findings = sorted(outcome.findings, key=lambda f: (f.suppressed, -severity_rank(f.rating), f.id, f.purl))
    return {"release": rel, "document": doc, "sboms": [{"path": p, "sha256": s} for p, s in entries],
            "ecosystems": sorted(ecosystems.items()), "components": doc.get("components") or [],
            "findings": findings, "problems": [*problems, *outcome.problems], "kits": releases.carriers(db, rel),
            "promotions": [p for p in store.listing(db, "WHERE release_name = ? AND release_version = ?",
                                                    [rel.name, rel.version])]}


def promotion_page(db: sqlite_utils.Database, promotion_id: str) -> dict[str, Any]:
    p = store.get(db, promotion_id)
    latest = store.latest_decision(db, p.id)
    got, need = _approvals_needed(db, p)
    deployments = [dict(zip(("id", "state", "deployer", "startedAt", "finishedAt"), r)) for r in db.execute(
        "SELECT id, state, deployer, started_at, finished_at FROM deployments WHERE promotion_id = ? ORDER BY id",
        [p.id])]
    return {"promotion": p, "decisionDigest": latest[0] if latest else None, "decision": latest[1] if latest else None,
            "approvals": store.approvals(db, p.id), "history": store.history(db, p.id), "approved": got,
            "required": need, "deployments": deployments, "pending": p.state in states.PENDING,
            "canDeploy": p.state == states.APPROVED, "run": _run_of(db, p.id)}


def _run_of(db: sqlite_utils.Database, promotion_id: str) -> dict[str, Any] | None:
    """The promotion's workflow run (``stella run list``), for the link to its page."""
    from appliance.runs import store as runs
    found = runs.of_promotion(db, promotion_id)
    return found.to_dict() if found else None


def promotion_list(db: sqlite_utils.Database, state: str | None, after: str | None, limit: int) -> dict[str, Any]:
    where, args = [], []
    if state:
        where.append("state = ?")
        args.append(state)
    if after:
        where.append("id > ?")
        args.append(after)
    sql = ("WHERE " + " AND ".join(where)) if where else ""
    ids = [r[0] for r in db.execute(f"SELECT id FROM promotions {sql} ORDER BY id LIMIT ?", [*args, limit + 1])]
    found = [store.get(db, i) for i in ids[:limit]]
    return {"promotions": [promotion_summary(db, p) for p in found],
            "next": found[-1].id if len(ids) > limit and found else None}


def kits(db: sqlite_utils.Database) -> dict[str, Any]:
    """What ``stella kits`` lists (the same query), and advisory freshness per source."""
    rows, _active = kit_listing(db)
    return {"kits": rows, "sources": advisory_sources(db, now())}


def staleness(db: sqlite_utils.Database) -> dict[str, int]:
    """Each environment's advisory staleness budget in days (the gate that reads it decides)."""
    return {e.name: max(1, e.staleness_hours // 24) for e in environments.ordered(db)}


def audit_page(db: sqlite_utils.Database, before: int | None, limit: int) -> dict[str, Any]:
    """Newest first, *limit* events with seq below *before*."""
    count, _ = audit.head(db)
    rows = db.execute("SELECT seq, time, actor, action, details, prev_hash, hash FROM audit_events WHERE seq < ? "
                      "ORDER BY seq DESC LIMIT ?", [before or count + 1, limit]).fetchall()
    shown = [audit.Event(*r) for r in rows]
    return {"events": shown, "count": count, "next": shown[-1].seq if shown and shown[-1].seq > 1 else None}


def deployments(home: Home, db: sqlite_utils.Database, check: bool) -> dict[str, Any]:
    """``stella whereis``, and ``stella drift`` when asked (it asks every target's engine)."""
    report = inspect.drift_report(home, db, None).to_dict() if check else None
    return {"whereis": inspect.whereis(db), "drift": report["targets"] if report else [],
            "down": report["unreachable"] if report else [], "checked": check}


def verify_replay(home: Home, db: sqlite_utils.Database, promotion_id: str) -> dict[str, Any]:
    """What ``stella-verify evidence`` and ``stella-verify replay`` say of the promotion's packet,
    run here: the appliance's signature and every digest, then the gates decided again on the
    packet's own inputs, the record compared byte for byte (the differences named otherwise)."""
    from appliance import keys
    from appliance.promotions import packets
    from kit import canonical
    from kit.evidence import packet
    from kit.gates import decide
    from kit.gates.diff import differences

    data = packets.export(home, db, promotion_id)
    digest = "sha256:" + canonical.sha256_hex(data)
    try:
        found = packet.verify(data, keys.public(home))
    except StellaError as exc:
        return {"packet": digest, "verified": False, "problem": exc.message, "identical": False, "differences": []}
    decision = decide(found.inputs)
    recorded = canonical.dumps(found.record)
    same = decision.record_bytes() == recorded
    carried = {name: canonical.digest(doc) for name, doc in found.inputs.items()}
    return {"packet": digest, "verified": True, "problem": None, "identical": same,
            "recorded": "sha256:" + canonical.sha256_hex(recorded), "replayed": decision.digest(),
            "differences": [] if same else differences(found.record, decision.record(), carried)}
