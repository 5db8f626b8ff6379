"""Workflow runs on a real appliance: the default template is today's path; a custom
template's health, soak, notify and rollback steps act on real targets; a SIGKILLed
appliance resumes its run with no finished step run again."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from tests.appliance.deploy.conftest import Site
from tests.appliance.deploy.site import Rel, free_port, web
from tests.appliance.helpers import stella_proc


def canonical_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def show(site: Site, run_id: str) -> dict[str, Any]:
    r = site.run("run", "show", run_id, "--json")
    assert r.exit_code == 0, r.output
    doc: dict[str, Any] = json.loads(r.output)
    return doc


def statuses(doc: dict[str, Any]) -> dict[str, str]:
    return {s["id"]: s["status"] for s in doc["steps"]}


def set_template(site: Site, env: str, text: str) -> None:
    path = site.tmp / f"{env}.workflow.yaml"
    path.write_text(text)
    r = site.run("workflow", "set", env, str(path), user="root")
    assert r.exit_code == 0, r.output


def only_run(site: Site) -> str:
    runs = json.loads(site.run("run", "list", "--json").output)
    return str(runs[0]["id"])


def test_the_default_template_is_todays_path(site: Site) -> None:
    port = free_port()
    site.import_([Rel("shop", "1.0.0", {"web": web(port)}, {"web": "shop web 1"})])
    site.target("dev-1")
    p = site.promote("shop@1.0.0")
    run_id = only_run(site)
    doc = show(site, run_id)
    assert doc["run"]["promotion"] == p and doc["run"]["template"]["name"] == "default"
    assert statuses(doc) == {"gates": "succeeded", "approval": "succeeded", "deploy": "running"}
    deploy = next(s for s in doc["steps"] if s["id"] == "deploy")
    assert deploy["message"] == f"waiting for a deployer: stella deploy {p} --as DEPLOYER"
    gates = next(s for s in doc["steps"] if s["id"] == "gates")
    promotion = json.loads(site.run("promotion", "show", p, "--json").output)
    assert gates["outputs"]["decision"] == promotion["decision"]      # the request-time decision, no second one
    r = site.run("deploy", p, "--json", user="dave")
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    doc = show(site, run_id)
    assert doc["run"]["state"] == "succeeded"
    assert statuses(doc) == {"gates": "succeeded", "approval": "succeeded", "deploy": "succeeded"}
    deploy = next(s for s in doc["steps"] if s["id"] == "deploy")
    assert deploy["outputs"] == {"deployment": report["deployment"], "changed": ["dev-1"]}
    assert sorted((a["step"], a["attempt"]) for a in doc["attempts"]) == [("approval", 1), ("deploy", 1),
                                                                          ("gates", 1)]


def test_a_rejection_ends_the_run_and_cancel_cancels_it(site: Site) -> None:
    site.import_([Rel("shop", "1.0.0", {"web": web(free_port())}, {"web": "shop web 1"}),
                  Rel("shop", "1.1.0", {"web": web(free_port())}, {"web": "shop web 1.1"})])
    r = site.run("env", "create", "qa", "--order", "0", "--requires-approvals", "1", user="root")
    assert r.exit_code == 0, r.output
    p = site.promote("shop@1.0.0", env="qa")
    run_id = only_run(site)
    assert statuses(show(site, run_id))["approval"] == "running"
    r = site.run("reject", p, "--comment", "not now", user="dave")
    assert r.exit_code == 0, r.output
    doc = show(site, run_id)
    assert doc["run"]["state"] == "failed"
    assert statuses(doc) == {"gates": "succeeded", "approval": "failed", "deploy": "skipped"}
    p2 = site.promote("shop@1.1.0", env="qa")
    run2 = only_run(site)
    assert run2 != run_id
    r = site.run("run", "cancel", run2, "--reason", "wrong day", user="alice")
    assert r.exit_code == 0, r.output
    doc = show(site, run2)
    assert doc["run"]["state"] == "cancelled" and statuses(doc)["approval"] == "cancelled"
    assert json.loads(site.run("promotion", "show", p2, "--json").output)["promotion"]["state"] == "cancelled"
    r = site.run("run", "cancel", run2, "--reason", "again", user="alice")
    assert r.exit_code == 5 and "run-finished" in r.output, r.output


SMOKE = """\
schema: stella/workflow/v1
name: dev-smoke
steps:
  - {id: gates, uses: gate}
  - {id: approval, uses: approval, needs: [gates]}
  - {id: deploy, uses: deploy, needs: [approval]}
  - id: smoke
    uses: health
    needs: [deploy]
    with: {probe: http, port: PORT, path: /, interval: 1s, deadline: DEADLINE}
  - {id: soak, uses: wait, needs: [smoke], with: {duration: 2s}}
  - id: tell
    uses: notify
    needs: [soak]
    with: {message: "shop is live in dev", severity: info}
  - id: undo
    uses: rollback
    needs: [smoke]
    if: failure()
"""


def test_a_custom_template_probes_soaks_and_notifies(site: Site) -> None:
    port = free_port()
    site.import_([Rel("shop", "1.0.0", {"web": web(port)}, {"web": "shop web 1"})])
    site.target("dev-1")
    set_template(site, "dev", SMOKE.replace("PORT", str(port)).replace("DEADLINE", "20s"))
    p = site.promote("shop@1.0.0")
    run_id = only_run(site)
    started = time.monotonic()
    r = site.run("deploy", p, user="dave")
    assert r.exit_code == 0, r.output
    assert time.monotonic() - started >= 2.0                  # the soak was waited through
    doc = show(site, run_id)
    assert doc["run"]["state"] == "succeeded", doc
    assert statuses(doc) == {"gates": "succeeded", "approval": "succeeded", "deploy": "succeeded",
                             "smoke": "succeeded", "soak": "succeeded", "tell": "succeeded", "undo": "skipped"}
    smoke = next(s for s in doc["steps"] if s["id"] == "smoke")
    assert smoke["outputs"]["status"] == 200
    db = sqlite3.connect(site.home / "stella.db")
    try:
        assert db.execute("SELECT run_id, step, message FROM outbox").fetchall() == [
            (run_id, "tell", "shop is live in dev")]
    finally:
        db.close()
    logs = site.run("run", "logs", run_id, "smoke")
    assert logs.exit_code == 0 and "dev-1: ok=True status=200" in logs.output


def test_a_failed_probe_after_deploy_rolls_every_target_back(site: Site) -> None:
    port = free_port()
    site.import_([Rel("shop", "1.0.0", {"web": web(port)}, {"web": "shop web 1"}),
                  Rel("shop", "2.0.0", {"web": web(port)}, {"web": "shop web 2"})])
    project = site.target("dev-1")
    assert site.run("deploy", site.promote("shop@1.0.0"), user="dave").exit_code == 0
    before = _images(site, project)
    closed = free_port()
    set_template(site, "dev", SMOKE.replace("PORT", str(closed)).replace("DEADLINE", "3s"))
    p = site.promote("shop@2.0.0")
    run_id = only_run(site)
    r = site.run("deploy", p, user="dave")
    assert r.exit_code == 0, r.output          # the deployment itself succeeded; the run did not
    doc = show(site, run_id)
    assert doc["run"]["state"] == "failed"
    assert statuses(doc) == {"gates": "succeeded", "approval": "succeeded", "deploy": "succeeded",
                             "smoke": "failed", "soak": "skipped", "tell": "skipped", "undo": "succeeded"}
    smoke = next(s for s in doc["steps"] if s["id"] == "smoke")
    assert f"127.0.0.1:{closed}" in smoke["message"]
    assert _images(site, project) == before
    where = json.loads(site.run("whereis", "--json").output)
    assert where[0]["release"] == "shop@1.0.0"


def _images(site: Site, project: str) -> dict[str, str]:
    client = site.client()
    try:
        return {c.labels["com.docker.compose.service"]: c.attrs["Image"] for c in
                client.containers.list(filters={"label": f"com.docker.compose.project={project}"})}
    finally:
        client.close()


def _kill_when(proc: Any, ready: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "the run never reached the point to kill it at"
            time.sleep(0.1)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def _step_status(home: Path, run_id: str, step: str) -> str | None:
    db = sqlite3.connect(home / "stella.db")
    try:
        row = db.execute("SELECT status FROM run_steps WHERE run_id = ? AND step = ?", [run_id, step]).fetchone()
        return row[0] if row else None
    finally:
        db.close()


def test_sigkill_inside_a_soak_then_resume_runs_nothing_twice(site: Site) -> None:
    port = free_port()
    site.import_([Rel("shop", "1.0.0", {"web": web(port)}, {"web": "shop web 1"})])
    site.target("dev-1")
    set_template(site, "dev", SMOKE.replace("PORT", str(port)).replace("DEADLINE", "20s")
                 .replace("duration: 2s", "duration: 4s"))
    p = site.promote("shop@1.0.0")
    run_id = only_run(site)
    proc = stella_proc("deploy", p, "--as", "dave", home=site.home)
    _kill_when(proc, lambda: _step_status(site.home, run_id, "soak") == "running")
    doc = show(site, run_id)
    assert doc["run"]["state"] == "running" and statuses(doc)["deploy"] == "succeeded"
    r = site.run("run", "resume", run_id, user="alice")
    assert r.exit_code == 0, r.output
    doc = show(site, run_id)
    assert doc["run"]["state"] == "succeeded", doc
    assert sorted((a["step"], a["attempt"]) for a in doc["attempts"]) == sorted(
        (s, 1) for s in ("gates", "approval", "deploy", "smoke", "soak", "tell"))
    deployments = json.loads(site.run("whereis", "--json").output)
    assert deployments[0]["release"] == "shop@1.0.0"


def test_sigkill_inside_a_deploy_then_resume_inspects_first(site: Site) -> None:
    port = free_port()
    site.import_([Rel("shop", "1.0.0", {"web": web(port)}, {"web": "shop web 1"})])
    site.target("dev-1")
    p = site.promote("shop@1.0.0")
    run_id = only_run(site)
    proc = stella_proc("deploy", p, "--as", "dave", home=site.home, env={"STELLA_TEST_PAUSE_AT": "deploy-before-up"})
    assert proc.stderr is not None
    line = proc.stderr.readline()
    _kill_when(proc, lambda: True)
    assert line.strip() == "stella-test-pause: deploy-before-up"
    r = site.run("run", "resume", run_id, user="dave")
    assert r.exit_code == 0, r.output
    doc = show(site, run_id)
    # the deployment had not started compose: recovery rolls it back and the deploy step fails, once
    assert doc["run"]["state"] == "failed" and statuses(doc)["deploy"] == "failed", doc
    assert [a["attempt"] for a in doc["attempts"] if a["step"] == "deploy"] == [1]
    promotion = json.loads(site.run("promotion", "show", p, "--json").output)["promotion"]
    assert promotion["state"] == "failed"


APPROVED = """\
schema: stella/workflow/v1
name: dev-approved
steps:
  - {id: gates, uses: gate}
  - {id: approval, uses: approval, needs: [gates], with: {role: approver, count: 1}}
  - {id: policy-again, uses: gate, needs: [approval], with: {gates: [policy]}}
  - {id: deploy, uses: deploy, needs: [policy-again]}
"""


def test_evidence_carries_the_run_and_stella_verify_replays_its_gate_and_approval_steps(site: Site) -> None:
    from click.testing import CliRunner

    from verifier.cli import cli as verify
    site.import_([Rel("shop", "1.0.0", {"web": web(free_port())}, {"web": "shop web 1"})])
    site.target("dev-1")
    set_template(site, "dev", APPROVED)
    p = site.promote("shop@1.0.0")
    run_id = only_run(site)
    assert statuses(show(site, run_id))["approval"] == "running"
    assert site.run("approve", p, user="dave").exit_code == 0
    r = site.run("deploy", p, "--evidence", str(site.tmp / "deployment.json"), user="dave")
    assert r.exit_code == 0, r.output
    doc = show(site, run_id)
    assert doc["run"]["state"] == "succeeded" and doc["run"]["evidence"]["type"] == "workflow_run"
    pub = site.tmp / "appliance.pub.json"
    assert site.run("key", "export", "--out", str(pub)).exit_code == 0
    deployment = json.loads(base64.b64decode(json.loads((site.tmp / "deployment.json").read_bytes())["payload"]))
    workflow = deployment["event"]["workflow"]
    assert workflow["run"] == run_id and [s["id"] for s in workflow["steps"]] == [
        "gates", "approval", "policy-again", "deploy"]
    assert sorted(workflow["replay"]) == ["approval", "gates", "policy-again"]
    res = CliRunner().invoke(verify, ["replay", str(site.tmp / "deployment.json"), "--appliance-key", str(pub)])
    assert res.exit_code == 0, res.output
    assert "OK step approval (approvals): pass: 1 of 1 approvals by role approver" in res.output
    assert "OK step policy-again (gates)" in res.output
    # the run's own packet, sealed at its end, replays too
    blob = site.tmp / "run.json"
    r = site.run("evidence", "export", p, "--type", "workflow_run", "--out", str(blob), user="erin")
    assert r.exit_code == 0, r.output
    assert canonical_sha256(blob.read_bytes()) == doc["run"]["evidence"]["sha256"]
    res = CliRunner().invoke(verify, ["replay", str(blob), "--appliance-key", str(pub)])
    assert res.exit_code == 0, res.output
    # a tampered approval in the packet is named (the signature check is left out: replay alone)
    packet = json.loads((site.tmp / "deployment.json").read_bytes())
    payload = json.loads(base64.b64decode(packet["payload"]))
    payload["event"]["workflow"]["replay"]["approval"]["inputs"]["approvals"]["approvals"] = []
    packet["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    tampered = site.tmp / "tampered.json"
    tampered.write_text(json.dumps(packet))
    res = CliRunner().invoke(verify, ["replay", str(tampered)])
    assert res.exit_code == 1 and "step approval: replay gives fail" in res.output, res.output


SCRIPTED = """\
schema: stella/workflow/v1
name: dev-scripted
steps:
  - {id: gates, uses: gate}
  - id: migrate
    uses: script
    needs: [gates]
    timeout: 30s
    with:
      image: IMAGE
      command: ["/bin/busybox", "sh", "-c", "echo checking; sleep 3; echo migration ok; echo ::output pending=0"]
    outputs: [pending]
  - {id: deploy, uses: deploy, needs: [migrate], if: "outputs('migrate').pending == 0"}
"""


def _image(site: Site) -> str:
    db = sqlite3.connect(site.home / "stella.db")
    try:
        repository, digest = db.execute("SELECT repository, digest FROM images ORDER BY repository LIMIT 1").fetchone()
        return f"{repository}@{digest}"
    finally:
        db.close()


def _containers(site: Site, name_part: str) -> list[str]:
    client = site.client()
    try:
        return [c.name for c in client.containers.list(all=True) if name_part in c.name]
    finally:
        client.close()


def test_sigkill_inside_a_script_then_resume_reattaches_to_it(site: Site) -> None:
    site.import_([Rel("shop", "1.0.0", {"web": web(free_port())}, {"web": "shop web 1"})])
    site.target("dev-1")
    set_template(site, "dev", SCRIPTED.replace("IMAGE", _image(site)))
    proc = stella_proc("promote", "shop@1.0.0", "--to", "dev", "--reason", "t", "--as", "alice", home=site.home)
    from appliance.runs.acts.script import container_name
    mine = container_name(site.home, "R-0001/migrate/1")
    _kill_when(proc, lambda: bool(_containers(site, mine)))
    run_id = only_run(site)
    assert statuses(show(site, run_id))["migrate"] == "running"
    r = site.run("run", "resume", run_id, user="alice")
    assert r.exit_code == 0, r.output
    doc = show(site, run_id)
    migrate = next(s for s in doc["steps"] if s["id"] == "migrate")
    assert migrate["status"] == "succeeded" and migrate["outputs"]["reattached"] is True, migrate
    assert migrate["outputs"]["exitCode"] == 0 and migrate["outputs"]["pending"] == 0
    assert [a["attempt"] for a in doc["attempts"] if a["step"] == "migrate"] == [1]
    assert statuses(doc)["deploy"] == "running"                  # waits for a deployer
    assert "migration ok" in site.run("run", "logs", run_id, "migrate").output
    assert _containers(site, mine) == []


def test_a_run_keeps_the_template_it_started_with(site: Site) -> None:
    site.import_([Rel("shop", "1.0.0", {"web": web(free_port())}, {"web": "shop web 1"})])
    site.target("dev-1")
    set_template(site, "dev", APPROVED)
    p = site.promote("shop@1.0.0")
    run_id = only_run(site)
    first = show(site, run_id)["run"]["template"]
    set_template(site, "dev", SMOKE.replace("PORT", "9").replace("DEADLINE", "2s"))    # edited while it runs
    assert site.run("approve", p, user="dave").exit_code == 0
    assert site.run("deploy", p, user="dave").exit_code == 0
    doc = show(site, run_id)
    assert doc["run"]["template"] == first and doc["run"]["state"] == "succeeded"
    assert [s["id"] for s in doc["steps"]] == ["gates", "approval", "policy-again", "deploy"]


RETRIED = """\
schema: stella/workflow/v1
name: dev-retried
steps:
  - {id: gates, uses: gate}
  - id: probe
    uses: health
    needs: [gates]
    retry: {limit: 1, backoff: {duration: 1s}}
    with: {probe: tcp, port: CLOSED, interval: 1s, deadline: 1s}
  - {id: deploy, uses: deploy, needs: [probe]}
"""


def test_a_failed_step_is_retried_once_after_its_backoff_and_the_evidence_shows_both_attempts(site: Site) -> None:
    site.import_([Rel("shop", "1.0.0", {"web": web(free_port())}, {"web": "shop web 1"})])
    site.target("dev-1")
    set_template(site, "dev", RETRIED.replace("CLOSED", str(free_port())))
    site.promote("shop@1.0.0")
    run_id = only_run(site)
    r = site.run("run", "resume", run_id, user="alice")          # sleeps through the backoff
    assert r.exit_code == 0, r.output
    doc = show(site, run_id)
    assert doc["run"]["state"] == "failed"
    assert statuses(doc) == {"gates": "succeeded", "probe": "failed", "deploy": "skipped"}
    tries = [a for a in doc["attempts"] if a["step"] == "probe"]
    assert [a["attempt"] for a in tries] == [1, 2] and all(a["status"] == "failed" for a in tries)
    assert tries[1]["startedAt"] >= tries[0]["finishedAt"]


CANARY = """\
schema: stella/workflow/v1
name: dev-canary
steps:
  - {id: gates, uses: gate}
  - id: deploy
    uses: deploy
    needs: [gates]
    with: {strategy: canary, canary: 1, soak: 1s, health: {probe: tcp, port: PORT, interval: 1s, deadline: 10s}}
"""


def test_the_deploy_step_rolls_out_with_its_strategy(site: Site, tmp_path: Path) -> None:
    from tests.appliance.deploy.test_strategies import import_two, three_targets
    import_two(site)
    projects, ports = three_targets(site, tmp_path)
    set_template(site, "dev", CANARY.replace("PORT", str(ports["dev-1"])))
    p = site.promote("shop@1.0.0")
    r = site.run("deploy", p, "--json", user="dave")
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    assert [(t["target"], t["batch"]) for t in report["targets"]] == [("dev-1", 1), ("dev-2", 2), ("dev-3", 2)]
    doc = show(site, only_run(site))
    assert doc["run"]["state"] == "succeeded"
    assert next(s for s in doc["steps"] if s["id"] == "deploy")["outputs"]["changed"] == ["dev-1", "dev-2", "dev-3"]


@pytest.mark.parametrize("point", ["run-acted:smoke", "run-acting:tell", "run-acted:tell"])
def test_sigkill_at_a_step_boundary_then_resume_finishes_once(site: Site, point: str) -> None:
    port = free_port()
    site.import_([Rel("shop", "1.0.0", {"web": web(port)}, {"web": "shop web 1"})])
    site.target("dev-1")
    set_template(site, "dev", SMOKE.replace("PORT", str(port)).replace("DEADLINE", "20s")
                 .replace("duration: 2s", "duration: 1s"))
    p = site.promote("shop@1.0.0")
    run_id = only_run(site)
    proc = stella_proc("deploy", p, "--as", "dave", home=site.home, env={"STELLA_TEST_PAUSE_AT": point})
    assert proc.stderr is not None
    line = proc.stderr.readline()
    _kill_when(proc, lambda: True)
    assert line.strip() == f"stella-test-pause: {point}"
    step = point.split(":")[1]
    assert _step_status(site.home, run_id, step) == "running"     # killed before its end was recorded
    r = site.run("run", "resume", run_id, user="alice")
    assert r.exit_code == 0, r.output
    doc = show(site, run_id)
    assert doc["run"]["state"] == "succeeded", doc
    # one attempt per step: the step the process died in ran again under the same attempt
    assert sorted((a["step"], a["attempt"]) for a in doc["attempts"]) == sorted(
        (s, 1) for s in ("gates", "approval", "deploy", "smoke", "soak", "tell"))
    db = sqlite3.connect(site.home / "stella.db")
    try:
        assert db.execute("SELECT count(*) FROM outbox").fetchone()[0] == 1
        assert db.execute("SELECT count(*) FROM deployments").fetchone()[0] == 1
    finally:
        db.close()


NOTIFY = """\
schema: stella/workflow/v1
name: dev-notify
steps:
  - {id: gates, uses: gate}
  - {id: tell, uses: notify, needs: [gates], with: {message: "requested", severity: warning, webhook: HOOK}}
"""


def test_notify_posts_only_to_a_webhook_the_admin_allowed(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    import http.server
    import threading
    got: list[dict[str, Any]] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:           # noqa: N802 (the stdlib's name)
            got.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("STELLA_WEBHOOKS", f"ops=http://127.0.0.1:{server.server_port}/hook")
        site.import_([Rel("shop", "1.0.0", {"web": web(free_port())}, {"web": "shop web 1"}),
                      Rel("shop", "1.1.0", {"web": web(free_port())}, {"web": "shop web 1.1"})])
        set_template(site, "dev", NOTIFY.replace("HOOK", "ops"))
        site.promote("shop@1.0.0")
        doc = show(site, only_run(site))
        assert statuses(doc)["tell"] == "succeeded"
        assert len(got) == 1 and got[0]["message"] == "requested" and got[0]["run"] == doc["run"]["id"]
        set_template(site, "dev", NOTIFY.replace("HOOK", "elsewhere"))
        site.promote("shop@1.1.0")
        doc = show(site, only_run(site))
        tell = next(s for s in doc["steps"] if s["id"] == "tell")
        assert tell["status"] == "failed" and "not one the admin allowed" in tell["message"]
        assert len(got) == 1
    finally:
        server.shutdown()
