"""The job store (appliance/jobs.py) and the service's worker (appliance/web/jobs.py) without
HTTP: ids, order and paging, one deploy per environment, orphans reported interrupted, an
import run by the worker as the user who asked. (Through a real ``stella serve``:
tests/appliance/web/test_jobs.py.)"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from appliance import jobs
from appliance.deploy.errors import DeployConflict
from appliance.home import Home
from appliance.promotions.errors import UnknownJob
from appliance.store.db import open_db
from appliance.web.jobs import Worker, uploads
from kit.crypto import Signer
from tests.appliance.helpers import files_v1, kit


def test_ids_order_conflicts_and_orphans(home: Path) -> None:
    db = open_db(Home(home).db_path)
    try:
        a = jobs.create(db, "reevaluate", "alice", {})
        b = jobs.create(db, "deploy", "dave", {"promotion": "P-0001"}, "dev")
        assert (a.id, b.id, a.state) == ("J-0001", "J-0002", "queued")
        with pytest.raises(DeployConflict) as refused:
            jobs.create(db, "rollback", "dave", {"environment": "dev"}, "dev")
        assert refused.value.kind == "deploy-running" and "J-0002" in refused.value.message
        c = jobs.create(db, "deploy", "dave", {"promotion": "P-0002"}, "prod")     # another environment
        assert [j.id for j in jobs.listing(db, 10)] == ["J-0003", "J-0002", "J-0001"]
        assert [j.id for j in jobs.listing(db, 10, after="J-0003")] == ["J-0002", "J-0001"]
        with pytest.raises(UnknownJob):
            jobs.get(db, "J-0404")
        jobs.started(db, b.id)
        jobs.progress(db, b.id, 0.5, "half")
        assert (jobs.get(db, b.id).state, jobs.get(db, b.id).progress) == ("running", 0.5)
        jobs.succeeded(db, c.id, {"ok": True})
        db.execute("UPDATE jobs SET pid = 1 WHERE id = ?", [b.id])       # started by another (dead) process
        assert jobs.interrupt_orphans(db) == ["J-0001", "J-0002"]
        got = jobs.get(db, b.id)
        assert got.state == "interrupted" and got.done and "stella deploy --resume" in (got.error_message or "")
        assert jobs.get(db, c.id).to_dict()["result"] == {"ok": True}
        jobs.create(db, "deploy", "dave", {"promotion": "P-0001"}, "dev")    # dev is free again
    finally:
        db.close()


def _wait(db_home: Home, job_id: str) -> jobs.Job:
    deadline = time.monotonic() + 30
    while True:
        db = open_db(db_home.db_path)
        try:
            job = jobs.get(db, job_id)
        finally:
            db.close()
        if job.done or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


def test_worker_imports_as_the_user_who_asked(home: Path, tmp_path: Path, signer: Signer) -> None:
    h = Home(home)
    written = kit(tmp_path / "v1.kit", files_v1(), [signer])
    bad = kit(tmp_path / "bad.kit", files_v1(), [signer], sequence=2)
    data = bytearray(bad.path.read_bytes())
    data[len(data) - 40] ^= 0x01
    bad.path.write_bytes(bytes(data))
    worker = Worker(h)
    worker.start()
    try:
        db = open_db(h.db_path)
        try:
            uploads(h).mkdir()
            queued = []
            for source in (written.path, bad.path):
                target = uploads(h) / source.name
                shutil.copyfile(source, target)
                job = jobs.create(db, "import", "admin", {"path": str(target), "filename": source.name,
                                                          "size": target.stat().st_size})
                worker.submit(job)
                queued.append(job.id)
        finally:
            db.close()
        ok, refused = _wait(h, queued[0]), _wait(h, queued[1])
        assert ok.state == "succeeded" and ok.result["kitId"] == written.manifest.kit_id, ok
        assert refused.state == "failed" and refused.error_kind in ("corrupt", "digest-mismatch"), refused
        assert "quarantined" in (refused.error_message or "")
        assert not any(uploads(h).iterdir())          # imported, or moved to quarantine
        db = open_db(h.db_path)
        try:
            assert db.execute("SELECT actor FROM kits").fetchall() == [("admin",)]
        finally:
            db.close()
    finally:
        worker.stop()
