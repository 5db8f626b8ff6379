"""The console's memoised reads are never older than the last commit, from any process."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from appliance.store.db import connect
from appliance.web.snapshot import Snapshot
from tests.appliance.web.conftest import Service


@pytest.fixture()
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "t.db"
    db = connect(path)
    db.execute("CREATE TABLE t (n INTEGER)")
    db.execute("INSERT INTO t VALUES (1)")
    db.close()
    return path


def _count(calls: list[int]):  # type: ignore[no-untyped-def]
    def compute(db):  # type: ignore[no-untyped-def]
        calls.append(1)
        return db.execute("SELECT sum(n) FROM t").fetchone()[0]
    return compute


def test_a_commit_by_another_connection_is_seen_at_once(db_path: Path) -> None:
    snap, calls = Snapshot(db_path, ttl=3600), []
    compute = _count(calls)
    assert snap.read("k", compute) == 1
    assert snap.read("k", compute) == 1
    assert len(calls) == 1                              # the second answer came from memory
    other = connect(db_path)
    other.execute("INSERT INTO t VALUES (2)")           # autocommit: another writer's commit
    assert snap.read("k", compute) == 3
    assert len(calls) == 2
    other.close()
    snap.close()


def test_time_to_live_and_capacity(db_path: Path) -> None:
    snap, calls = Snapshot(db_path, ttl=0.05, capacity=2), []
    compute = _count(calls)
    snap.read("a", compute)
    time.sleep(0.06)
    snap.read("a", compute)
    assert len(calls) == 2                              # older than the TTL: read again
    snap.read("b", compute)
    snap.read("c", compute)                             # "a" is the least recently used: evicted
    snap.read("c", compute)
    assert len(calls) == 4
    snap.ttl = 3600
    snap.read("a", compute)
    assert len(calls) == 5
    snap.close()


def test_a_failed_read_is_not_kept(db_path: Path) -> None:
    snap = Snapshot(db_path, ttl=3600)
    attempts: list[int] = []

    def flaky(db):  # type: ignore[no-untyped-def]
        attempts.append(1)
        if len(attempts) == 1:
            raise LookupError("first time")
        return "ok"
    with pytest.raises(LookupError):
        snap.read("k", flaky)
    assert snap.read("k", flaky) == "ok"
    snap.close()


def _console(service: Service, user: str):  # type: ignore[no-untyped-def]
    c = service.login(user)
    c.follow_redirects = False
    return c


def test_console_pages_show_a_cli_change_at_once(fresh_service: Service) -> None:
    """A page served from memory must not hide what another process just committed."""
    page = _console(fresh_service, "bob")
    before = page.get("/promotions")
    assert before.status_code == 200
    result = fresh_service.stella("promote", "web@1.0.0", "--to", "dev", "--reason", "snap", "--json",
                                  user="alice")
    assert result.exit_code == 0, result.output
    new_id = json.loads(result.output)["promotion"]["id"]
    assert new_id not in before.text
    after = page.get("/promotions")                     # immediately: no waiting out a TTL
    assert after.status_code == 200 and new_id in after.text
    shown = page.get(f"/promotions/{new_id}")
    assert shown.status_code == 200 and "snap" in shown.text


def test_a_revoked_session_ends_at_once_on_cached_pages(fresh_service: Service) -> None:
    page = _console(fresh_service, "alice")
    assert page.get("/").status_code == 200
    assert page.get("/").status_code == 200            # the session row is now memoised
    result = fresh_service.stella("user", "passwd", "alice", "--password-stdin", user="alice",
                                  stdin="another-long-password\n")
    assert result.exit_code == 0, result.output
    gone = page.get("/")
    assert gone.status_code == 303 and re.match(r"/login\?next=", gone.headers["location"])
