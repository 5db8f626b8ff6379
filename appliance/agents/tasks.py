"""Tasks for agents, leased (docs/agent-protocol.md "Leases"): what the appliance's deploy code
calls to have an agent act on its host, and what the agent endpoints call.

    enqueue(db, agent, kind, payload, key, repeatable=…) -> task id     (the same key: the same task)
    wait(db, task_id, timeout) -> Result                               (the appliance side)

A poll hands the agent's oldest queued task to it as a lease (an id, an expiry); each
heartbeat naming the lease extends it; the first result under the lease finishes the task.
A lease that expires — the agent was killed, lost its network, or its next heartbeat no
longer names it — is re-queued when the task is repeatable and ``expired`` otherwise; both
are audited (``agent.lease-expired``), so a deploy cut off mid-way is reported, never re-run
blindly.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from appliance import audit
from appliance.agents import timing
from appliance.agents.tokens import canonical_json
from appliance.errors import AgentTaskTimeout, UnknownAgent
from appliance.store.db import transaction
from kit.agentproto import PROTOCOL, TaskLease, TaskResult
from kit.agentproto.errors import BadMessage, LeaseRefused
from kit.agentproto.messages import ID
from kit.agentproto.tasks import check_payload
from kit.timeutil import format_time, now, parse_time

FINISHED = ("succeeded", "failed", "expired")
POLL = 0.05     # seconds between looks at the table while waiting (a read of one row: cheap; a deploy waits on
                # several tasks in a row, and each look later is that much added to it)


@dataclass(frozen=True)
class Result:
    """A task as it stands: ``state`` is queued, leased, succeeded, failed or expired."""

    task_id: str
    agent: str
    kind: str
    key: str
    state: str
    attempts: int
    detail: str | None
    facts: dict[str, Any] | None
    finished: str | None

    @property
    def done(self) -> bool:
        return self.state in FINISHED

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.task_id, "agent": self.agent, "type": self.kind, "idempotencyKey": self.key,
                "state": self.state, "attempts": self.attempts, "detail": self.detail, "facts": self.facts,
                "finished": self.finished}


_COLUMNS = "id, agent, kind, key, state, attempts, detail, facts, finished"


def _result(row: tuple[Any, ...]) -> Result:
    return Result(str(row[0]), str(row[1]), str(row[2]), str(row[3]), str(row[4]), int(row[5]), row[6],
                  json.loads(row[7]) if row[7] else None, row[8])


def get(db: sqlite_utils.Database, task_id: str) -> Result:
    row = db.execute(f"SELECT {_COLUMNS} FROM agent_tasks WHERE id = ?", [task_id]).fetchone()
    if row is None:
        raise BadMessage(f"unknown agent task {task_id[:80]!r}")
    return _result(row)


def enqueue(db: sqlite_utils.Database, agent: str, kind: str, payload: dict[str, Any], key: str, *,
            repeatable: bool) -> str:
    """Queue a task of *kind* for *agent*; the id of the task under *key* (a new one, or the one
    already queued under it: enqueuing again never makes a second task).

    Raises:
        BadMessage: *key* is not 8-64 of ``[A-Za-z0-9_-]``; *payload* is not what *kind* takes.
        UnknownAgent: no agent has that name.
    """
    if not re.fullmatch(ID, key):
        raise BadMessage(f"idempotency key {key[:80]!r} does not match {ID}")
    body = canonical_json(check_payload(kind, payload))
    if len(body.encode()) > 128 * 1024:
        raise BadMessage(f"{kind} payload: over 128 KiB")
    with transaction(db):
        found = db.execute("SELECT id FROM agent_tasks WHERE key = ?", [key]).fetchone()
        if found:
            return str(found[0])
        if not db.execute("SELECT 1 FROM agents WHERE name = ?", [agent]).fetchone():
            raise UnknownAgent(f"unknown agent {agent[:80]!r} (stella agent list)")
        task_id = "task-" + secrets.token_hex(8)
        db.execute("INSERT INTO agent_tasks (id, agent, kind, payload, key, repeatable, state, created) "
                   "VALUES (?, ?, ?, ?, ?, ?, 'queued', ?)",
                   [task_id, agent, kind, body, key, int(repeatable), format_time(now())])
    return task_id


def expire(db: sqlite_utils.Database, moment: dt.datetime, *, agent: str | None = None,
           held: tuple[str, ...] | None = None) -> list[Result]:
    """Expire the leases past their expiry (of *agent* only, when given) and, when *held* is given,
    the agent's leases its heartbeat no longer names: re-queued when repeatable, ``expired``
    otherwise; each audited. The tasks touched, as they stand after."""
    clauses, args = ["state = 'leased'"], []
    if agent is not None:
        clauses.append("agent = ?")
        args.append(agent)
    with transaction(db):
        rows = db.execute(f"SELECT id, agent, lease_id, lease_expires, repeatable, kind, key FROM agent_tasks "
                          f"WHERE {' AND '.join(clauses)}", args).fetchall()
        touched = []
        for task_id, owner, lease_id, expires, repeatable, kind, key in rows:
            if moment >= parse_time(expires):
                why = f"lease {lease_id} expired at {expires}"
            elif held is not None and lease_id not in held:
                why = f"the agent's heartbeat no longer names lease {lease_id} (it restarted or dropped it)"
            else:
                continue
            if repeatable:
                db.execute("UPDATE agent_tasks SET state = 'queued', lease_id = NULL, lease_expires = NULL "
                           "WHERE id = ?", [task_id])
            else:
                db.execute("UPDATE agent_tasks SET state = 'expired', detail = ?, finished = ? WHERE id = ?",
                           [why, format_time(moment), task_id])
            audit.append(db, f"agent:{owner}", "agent.lease-expired",
                         {"task": task_id, "agent": owner, "type": kind, "idempotencyKey": key, "lease": lease_id,
                          "reason": why, "then": "re-queued" if repeatable else "expired"}, format_time(moment))
            touched.append(task_id)
    return [get(db, t) for t in touched]


def has_queued(db: sqlite_utils.Database, agent: str) -> bool:
    return db.execute("SELECT 1 FROM agent_tasks WHERE agent = ? AND state = 'queued' LIMIT 1",
                      [agent]).fetchone() is not None


def lease_next(db: sqlite_utils.Database, agent: str, moment: dt.datetime) -> TaskLease | None:
    """Lease *agent*'s oldest queued task to it, or None when there is none."""
    with transaction(db):
        row = db.execute("SELECT id, kind, payload, key FROM agent_tasks WHERE agent = ? AND state = 'queued' "
                         "ORDER BY created, rowid LIMIT 1", [agent]).fetchone()
        if row is None:
            return None
        task_id, kind, payload, key = row
        lease_id = "lease-" + secrets.token_hex(12)
        expires = format_time(moment + timing.lease())
        db.execute("UPDATE agent_tasks SET state = 'leased', lease_id = ?, lease_expires = ?, "
                   "attempts = attempts + 1 WHERE id = ?", [lease_id, expires, task_id])
    return TaskLease(PROTOCOL, lease_id, key, kind, expires, json.loads(payload))


def extend(db: sqlite_utils.Database, agent: str, running: tuple[str, ...], moment: dt.datetime) -> None:
    """Extend the leases of *agent* its heartbeat names (and still held, unexpired)."""
    if not running:
        return
    marks = ", ".join("?" for _ in running)
    with transaction(db):
        db.execute(f"UPDATE agent_tasks SET lease_expires = ? WHERE agent = ? AND state = 'leased' "
                   f"AND lease_id IN ({marks}) AND lease_expires > ?",
                   [format_time(moment + timing.lease()), agent, *running, format_time(moment)])


def record(db: sqlite_utils.Database, agent: str, result: TaskResult, moment: dt.datetime,
           address: str = "?") -> bool:
    """Finish the task of the lease *result* names with it; False when that lease's task was
    finished by this same lease already (the first result stands; a retried post is no error).

    Raises:
        LeaseRefused: *agent* does not hold that lease (another agent's, expired, re-queued, unknown)
            or the idempotency key is not the task's; nothing changes, and the refusal is audited.
    """
    expire(db, moment, agent=agent)
    with transaction(db):
        row = db.execute("SELECT id, agent, key, state, lease_expires FROM agent_tasks WHERE lease_id = ?",
                         [result.lease_id]).fetchone()
        why = None
        if row is None:
            why = f"no task is leased under {result.lease_id} (unknown, or its lease expired and it was re-queued)"
        elif row[1] != agent:
            why = f"lease {result.lease_id} is another agent's"
        elif row[2] != result.idempotency_key:
            why = f"lease {result.lease_id} is not for idempotency key {result.idempotency_key}"
        elif row[3] in ("succeeded", "failed"):
            return False
        elif row[3] != "leased":
            why = f"lease {result.lease_id} expired at {row[4]}; the task is {row[3]}"
        if why is None:
            assert row is not None
            db.execute("UPDATE agent_tasks SET state = ?, status = ?, detail = ?, facts = ?, finished = ? "
                       "WHERE id = ?", [result.status, result.status, result.detail,
                                        canonical_json(result.facts) if result.facts is not None else None,
                                        format_time(moment), row[0]])
            audit.append(db, f"agent:{agent}", "agent.task-result",
                         {"task": row[0], "lease": result.lease_id, "idempotencyKey": result.idempotency_key,
                          "status": result.status}, format_time(moment))
            return True
    error = LeaseRefused(f"refused the result: {why}; nothing was recorded")
    with transaction(db):
        audit.append(db, f"agent:{agent}", "agent.result-refused",
                     {"agent": agent, "address": address, "lease": result.lease_id,
                      "idempotencyKey": result.idempotency_key, "kind": error.kind, "reason": why},
                     format_time(moment))
    raise error


def _lease_ended(db: sqlite_utils.Database, task_id: str, moment: dt.datetime) -> bool:
    row = db.execute("SELECT lease_expires FROM agent_tasks WHERE id = ? AND state = 'leased'", [task_id]).fetchone()
    return row is not None and row[0] is not None and moment >= parse_time(row[0])


def wait(db: sqlite_utils.Database, task_id: str, timeout: float) -> Result:
    """The task's result once it is finished (succeeded, failed or expired), expiring leases as it waits.

    Raises:
        AgentTaskTimeout: not finished within *timeout* seconds (the task stays as it is).
    """
    deadline = time.monotonic() + timeout
    while True:
        found = get(db, task_id)
        if found.done:
            return found
        if found.state == "leased" and _lease_ended(db, task_id, now()):
            # a read first: taking the write lock every look would hold up the agent's own result
            expire(db, now(), agent=found.agent)
            found = get(db, task_id)
            if found.done:
                return found
        if time.monotonic() >= deadline:
            raise AgentTaskTimeout(f"agent {found.agent} did not finish task {task_id} ({found.kind}) within "
                                   f"{timeout:g}s; it is {found.state}")
        time.sleep(POLL)
