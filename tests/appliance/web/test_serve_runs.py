"""``stella serve`` at start advances every unfinished run once (as ``stella run resume``):
a run left parked on a soak whose time has passed ends with no request and no CLI."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from kit.crypto import Signer
from tests.appliance.web.conftest import _cli, site_home, start_service

SOAK = """\
schema: stella/workflow/v1
name: dev-soak
steps:
  - {id: gates, uses: gate}
  - {id: soak, uses: wait, needs: [gates], with: {duration: 1s}}
  - {id: tell, uses: notify, needs: [soak], with: {message: "soaked", severity: info}}
"""


def _run(home: Path, run_id: str) -> dict[str, str]:
    db = sqlite3.connect(home / "stella.db")
    try:
        state, wake = db.execute("SELECT state, wake_at FROM runs WHERE id = ?", [run_id]).fetchone()
        steps = dict(db.execute("SELECT step, status FROM run_steps WHERE run_id = ?", [run_id]).fetchall())
        return {"state": state, "wake": wake, **steps}
    finally:
        db.close()


def test_serve_resumes_an_unfinished_run_at_start(tmp_path: Path, signer: Signer) -> None:
    home = site_home(tmp_path / "site", signer)
    (tmp_path / "dev.yaml").write_text(SOAK)
    assert _cli(home, "workflow", "set", "dev", str(tmp_path / "dev.yaml"), user="admin").exit_code == 0
    r = _cli(home, "promote", "web@1.0.0", "--to", "dev", "--reason", "soak it", "--json", user="alice")
    assert r.exit_code == 0, r.output
    run_id = json.loads(_cli(home, "run", "list", "--json").output)[0]["id"]
    parked = _run(home, run_id)
    assert parked["state"] == "running" and parked["soak"] == "running" and parked["tell"] == "pending", parked
    time.sleep(1.5)                       # the soak's time passes while no process runs the appliance
    assert _run(home, run_id)["state"] == "running"

    # the waker's periodic look is an hour away: only the start-up resume can end the run
    svc = start_service(home, env={"STELLA_RUN_POLL": "3600"})
    try:
        deadline = time.monotonic() + 20
        while (now := _run(home, run_id))["state"] == "running":
            assert time.monotonic() < deadline, now
            time.sleep(0.2)
        assert now == {"state": "succeeded", "wake": None, "gates": "succeeded", "soak": "succeeded",
                       "tell": "succeeded"}
        shown = svc.login("erin").get(f"/api/v1/runs/{run_id}").json()
        assert shown["run"]["state"] == "succeeded"
        assert [a["attempt"] for a in shown["attempts"] if a["step"] == "soak"] == [1]     # re-attached, not re-run
    finally:
        svc.stop()
    events = json.loads(_cli(home, "audit", "log", "--json").output)
    assert [e["actor"] for e in events if e["action"] == "run.finish"] == ["stella-serve"]   # the service did it


def test_the_waker_looks_only_at_due_runs_and_one_bad_run_holds_up_none(tmp_path: Path, signer: Signer) -> None:
    from appliance.home import Home
    from appliance.store.db import connect
    from appliance.web.runwaker import advance_each, due

    home = site_home(tmp_path / "site", signer)
    for env, soak in (("dev", "1s"), ("stage", "1h")):
        (tmp_path / f"{env}.yaml").write_text(SOAK.replace("duration: 1s", f"duration: {soak}"))
        assert _cli(home, "workflow", "set", env, str(tmp_path / f"{env}.yaml"), user="admin").exit_code == 0
    assert _cli(home, "promote", "web@1.0.0", "--to", "dev", "--reason", "r", user="alice").exit_code == 0
    assert _cli(home, "promotion", "mark-deployed", "P-0001", user="dave").exit_code == 0
    r = _cli(home, "promote", "web@1.0.0", "--to", "stage", "--reason", "r", user="alice")
    assert r.exit_code == 0, r.output
    runs = {r["environment"]: r["id"] for r in json.loads(_cli(home, "run", "list", "--json").output)}
    db = connect(Home(home).db_path)
    try:
        time.sleep(1.2)
        assert due(db) == [runs["dev"]]                   # the hour-long soak is not due
        assert advance_each(Home(home), db, ["R-9999", runs["dev"]]) == ["R-9999"]
    finally:
        db.close()
    assert _run(home, runs["dev"])["state"] == "succeeded"
    assert _run(home, runs["stage"])["state"] == "running"
