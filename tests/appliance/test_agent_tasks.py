"""Leased tasks and agent readiness on a real SQLite store (appliance/agents/tasks.py, service.py):
what the deploy code calls, without a server — idempotency keys, leases and their expiry,
the first result wins, refusals change nothing and are audited; ready/down/revoked."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from appliance.agents import service, tasks, tokens
from appliance.errors import AgentDown, AgentTaskTimeout, UnknownAgent
from appliance.home import Home
from appliance.store.db import open_db
from kit.agentproto import PROTOCOL, BadMessage, RegisterRequest, TaskResult
from kit.agentproto.errors import LeaseRefused
from kit.timeutil import now
from tests.appliance.web.conftest import site_home


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return site_home(tmp_path_factory.mktemp("agent-tasks"), site=False)


@pytest.fixture()
def db(home: Path) -> Iterator[sqlite_utils.Database]:
    conn = open_db(home / "stella.db")
    yield conn
    conn.close()


def add_agent(db: sqlite_utils.Database, home: Path, name: str, labels: dict[str, str]) -> None:
    made = tokens.create(db, Home(home), labels, dt.timedelta(minutes=5), "admin")
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])).sign(key, hashes.SHA256()))
    body = RegisterRequest(PROTOCOL, made.token, name, csr.public_bytes(serialization.Encoding.PEM).decode(), ())
    service.register(db, Home(home), body.to_json(), "127.0.0.1")


def events(db: sqlite_utils.Database, action: str) -> list[dict[str, Any]]:
    return [json.loads(d) for (d,) in db.execute("SELECT details FROM audit_events WHERE action = ?", [action])]


def result(lease_id: str, key: str, detail: str = "ok") -> TaskResult:
    return TaskResult(PROTOCOL, lease_id, key, "succeeded", detail, {"n": 1})


def test_enqueue_lease_result(db: sqlite_utils.Database, home: Path) -> None:
    add_agent(db, home, "t-1", {"role": "web"})
    add_agent(db, home, "t-2", {"role": "web"})
    first = tasks.enqueue(db, "t-1", "inspect", {"project": "a"}, "key-first", repeatable=True)
    second = tasks.enqueue(db, "t-1", "health", {"port": 80}, "key-second", repeatable=True)
    assert tasks.enqueue(db, "t-1", "inspect", {"project": "a"}, "key-first", repeatable=True) == first
    assert db.execute("SELECT count(*) FROM agent_tasks WHERE key = 'key-first'").fetchone()[0] == 1
    with pytest.raises(UnknownAgent):
        tasks.enqueue(db, "nobody", "inspect", {"project": "a"}, "key-nobody", repeatable=True)
    with pytest.raises(BadMessage, match="idempotency key"):
        tasks.enqueue(db, "t-1", "inspect", {"project": "a"}, "short", repeatable=True)
    assert tasks.lease_next(db, "t-2", now()) is None                    # another agent's queue
    lease = tasks.lease_next(db, "t-1", now())
    assert lease is not None and lease.idempotency_key == "key-first" and lease.type == "inspect"   # oldest first
    assert tasks.get(db, first).state == "leased" and tasks.get(db, second).state == "queued"
    before = db.execute("SELECT * FROM agent_tasks WHERE id = ?", [first]).fetchone()
    for agent, res, why in (("t-2", result(lease.lease_id, "key-first"), "another agent's"),
                            ("t-1", result(lease.lease_id, "key-second"), "not for idempotency key"),
                            ("t-1", result("lease-unknown-1", "key-first"), "no task is leased")):
        with pytest.raises(LeaseRefused, match=why):
            tasks.record(db, agent, res, now())
    assert db.execute("SELECT * FROM agent_tasks WHERE id = ?", [first]).fetchone() == before
    assert len([e for e in events(db, "agent.result-refused") if e["idempotencyKey"] in ("key-first",
                                                                                          "key-second")]) == 3
    assert tasks.record(db, "t-1", result(lease.lease_id, "key-first", "first"), now()) is True
    assert tasks.record(db, "t-1", result(lease.lease_id, "key-first", "second"), now()) is False
    done = tasks.wait(db, first, 1)
    assert (done.state, done.detail, done.facts, done.attempts) == ("succeeded", "first", {"n": 1}, 1)
    with pytest.raises(AgentTaskTimeout, match="did not finish task"):
        tasks.wait(db, second, 0.3)


def test_expiry_requeues_only_what_is_repeatable(db: sqlite_utils.Database, home: Path) -> None:
    add_agent(db, home, "t-3", {})
    safe = tasks.enqueue(db, "t-3", "inspect", {"project": "a"}, "key-safe-1", repeatable=True)
    lease = tasks.lease_next(db, "t-3", now())
    assert lease is not None
    later = now() + dt.timedelta(seconds=30)
    tasks.extend(db, "t-3", (lease.lease_id,), later)                   # a heartbeat naming it, 30 s on
    assert tasks.expire(db, now() + dt.timedelta(seconds=75)) == []       # still within the extended lease
    [again] = tasks.expire(db, now() + dt.timedelta(seconds=200))
    assert again.task_id == safe and again.state == "queued"
    relet = tasks.lease_next(db, "t-3", now())
    assert relet is not None and relet.lease_id != lease.lease_id and tasks.get(db, safe).attempts == 2
    with pytest.raises(LeaseRefused):                                     # the old lease is dead
        tasks.record(db, "t-3", result(lease.lease_id, "key-safe-1"), now())
    tasks.record(db, "t-3", result(relet.lease_id, "key-safe-1"), now())
    risky = tasks.enqueue(db, "t-3", "deploy", {"project": "a", "lock": "services: {}\n"}, "key-risky-1",
                          repeatable=False)
    lease = tasks.lease_next(db, "t-3", now())
    assert lease is not None
    # the agent restarted: its heartbeat names no lease, so the one it held ends now
    [gone] = tasks.expire(db, now(), agent="t-3", held=())
    assert gone.task_id == risky and gone.state == "expired" and "no longer names" in (gone.detail or "")
    assert tasks.lease_next(db, "t-3", now()) is None                    # never offered again
    assert [e["then"] for e in events(db, "agent.lease-expired") if e["task"] in (safe, risky)] == \
        ["re-queued", "expired"]


def test_ready_down_revoked(db: sqlite_utils.Database, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STELLA_AGENT_GRACE", "30")
    add_agent(db, home, "r-1", {"role": "web", "site": "berlin"})
    add_agent(db, home, "r-2", {"role": "web", "site": "paris"})
    add_agent(db, home, "r-3", {"role": "web", "site": "berlin"})
    with pytest.raises(AgentDown, match="agent r-1 is down: no heartbeat since it registered at"):
        service.require_ready(db, "r-1")
    service.heartbeat(db, "r-1", now())
    service.heartbeat(db, "r-2", now())
    service.heartbeat(db, "r-3", now() - dt.timedelta(seconds=31))
    assert service.require_ready(db, "r-1").name == "r-1"
    assert [a.name for a in service.ready_agents(db, {"role": "web", "site": "berlin"})] == ["r-1"]
    assert [a.name for a in service.ready_agents(db, {"role": "web"}) if a.name.startswith("r-")] == ["r-1", "r-2"]
    with pytest.raises(AgentDown, match=r"agent r-3 is down: no heartbeat since .*Z \(grace 30s\)"):
        service.require_ready(db, "r-3")
    service.revoke(db, "r-2", "stolen laptop", "admin")
    with pytest.raises(AgentDown, match="agent r-2 is revoked .*stolen laptop"):
        service.require_ready(db, "r-2")
    assert "r-2" not in [a.name for a in service.ready_agents(db, {})]
    with pytest.raises(UnknownAgent):
        service.require_ready(db, "r-404")
