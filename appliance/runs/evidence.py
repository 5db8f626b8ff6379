"""A run in evidence: the ``workflow`` section of deployment, rollback and ``workflow_run``
packets (docs/evidence.md "Workflow runs").

The section names the template (digest and document), every step in template order with
its state, attempt, times, the digests of its inputs and outputs, its log's digest and size,
every attempt, and what ``stella-verify replay`` re-evaluates: each gate step's decision
record with its input documents (stored once by digest), each approval step's inputs and
result. A ``workflow_run`` packet is sealed when the run ends, so steps after the deploy
(health, soak, notify, rollback) are in evidence too.
"""

from __future__ import annotations

from typing import Any

import sqlite_utils

from appliance import keys, workflows
from appliance.deploy.records import store_blob
from appliance.home import Home
from appliance.promotions import store as pstore
from appliance.runs import store
from kit import canonical
from kit.evidence import packet


def section(db: sqlite_utils.Database, run_id: str) -> dict[str, Any]:
    run = store.get(db, run_id)
    template = workflows.by_digest(db, run.template)
    rows = store.steps(db, run.id)
    steps = []
    for s in template.steps:
        row = rows[s.id]
        steps.append({"id": s.id, "uses": s.uses, "status": row.status, "attempt": row.attempt,
                      "startedAt": row.started_at, "finishedAt": row.finished_at, "message": row.message,
                      "inputsSha256": row.inputs_sha256, "outputs": row.outputs,
                      "outputsSha256": canonical.digest(row.outputs),
                      "log": {"sha256": row.log_sha256, "bytes": row.log_bytes} if row.log_sha256 else None})
    replays = store.replays(db, run.id)
    decisions: dict[str, Any] = {}
    documents: dict[str, Any] = {}
    for rep in replays.values():
        if rep.get("kind") != "gates" or rep["decision"] in decisions:
            continue
        record = pstore.decision(db, rep["decision"])
        decisions[rep["decision"]] = record
        for name, doc in pstore.input_documents(db, record).items():
            documents[record["inputs"][name]] = doc
    return {"run": run.id, "promotion": run.promotion_id, "state": run.state,
            "template": {"name": template.name, "digest": template.digest, "document": template.to_doc()},
            "steps": steps, "attempts": store.attempts(db, run.id), "replay": replays,
            "decisions": decisions, "documents": documents}


def of_deployment(db: sqlite_utils.Database, deployment_id: str) -> dict[str, Any] | None:
    """The section of the run a deployment belongs to (None for a deployment without a run)."""
    row = db.execute("SELECT r.id FROM runs r JOIN deployments d ON d.promotion_id = r.promotion_id "
                     "WHERE d.id = ?", [deployment_id]).fetchone()
    return section(db, row[0]) if row else None


def seal(home: Home, db: sqlite_utils.Database, run_id: str) -> str:
    """The run's ``workflow_run`` packet (its latest decision record and inputs, the section
    as event), stored in the content store and named on the run — in the caller's
    transaction, the one that ends the run, so an ended run always names its packet;
    returns its sha256 hex."""
    run = store.get(db, run_id)
    row = db.execute("SELECT record FROM decision_records WHERE promotion_id = ? ORDER BY "
                     "purpose = 'deploy' DESC, created_at DESC, rowid DESC LIMIT 1", [run.promotion_id]).fetchone()
    record = pstore.loads_record(row[0])
    doc = section(db, run_id)
    data = packet.build("workflow_run", record, pstore.input_documents(db, record), keys.signer(home),
                        {"at": run.finished_at or run.created_at, "workflow": doc})
    hexd = store_blob(home, data)
    db.execute("UPDATE runs SET packet = ? WHERE id = ?", [hexd, run_id])
    return hexd
