"""``stella-agent run`` end to end on loopback (issue 14): a real ``stella serve`` with its mutual-TLS
agent listener, an agent registered by the real ``stella-agent register`` and run as a
subprocess against the test dockerd; tasks enqueued as the appliance's deploy code does
(appliance.agents.tasks) and their results read back as it would.

Timings are shortened for the test (interval 0.5 s, grace 2 s, lease 3 s) through the
documented environment variables.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from appliance.agents import service as agents, tasks
from appliance.store.db import open_db
from tests.agent.test_register import agent, token
from tests.appliance.helpers import ROOT
from tests.appliance.web.conftest import Service, _cli, site_home, start_service
from tests.images import Published

pytestmark = pytest.mark.services

TIMING = {"STELLA_AGENT_INTERVAL": "0.5", "STELLA_AGENT_GRACE": "2", "STELLA_AGENT_LEASE": "3"}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc = start_service(site_home(tmp_path_factory.mktemp("agent-run"), site=False), env=TIMING)
    try:
        yield svc
    finally:
        svc.stop()


@pytest.fixture()
def timing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same timings in this process (the CLI and the tasks module read them here)."""
    for k, v in TIMING.items():
        monkeypatch.setenv(k, v)


def registered(svc: Service, state: Path, name: str) -> None:
    made = token(svc)
    r = agent("register", "--appliance", svc.base_url, "--token", made["token"], "--state", str(state),
              "--name", name, "--ca-fingerprint", made["caFingerprint"])
    assert r.returncode == 0, r.stderr


def start_agent(svc: Service, state: Path, docker_host: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "STELLA_AGENT_INTERVAL": "0.5"}
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-c", "from agent.cli import main; main()", "run", "--state",
                                 str(state), "--appliance", svc.agent_url, "--docker", docker_host],
                                env=env, stdout=out, stderr=out)


def listed(svc: Service) -> dict[str, dict[str, Any]]:
    r = _cli(svc.home, "agent", "list", "--json", user="admin")
    assert r.exit_code == 0, r.output
    return {a["name"]: a for a in json.loads(r.output)}


def wait_for(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout}s: {what}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def test_an_inspect_task_runs_on_the_agent_host(service: Service, tmp_path: Path, docker_host: str,
                                                images: Published, timing: None) -> None:
    state, log = tmp_path / "state", tmp_path / "agent.log"
    registered(service, state, "web-1")
    assert listed(service)["web-1"]["state"] == "new"
    # a container of a Compose project on the agent's engine, made from an image pulled by digest
    project = f"shop-{uuid.uuid4().hex[:8]}"
    engine = docker.DockerClient(base_url=docker_host)
    repo = images.deb.rsplit(":", 1)[0]
    engine.images.pull(repo, tag=images.deb_digest)
    ctr = engine.containers.create(f"{repo}@{images.deb_digest}", command=["true"], name=f"{project}-web-1",
                                   labels={"com.docker.compose.project": project,
                                           "com.docker.compose.service": "web"})
    proc = start_agent(service, state, docker_host, log)
    db = open_db(service.home / "stella.db")
    try:
        wait_for(lambda: listed(service)["web-1"]["state"] == "ready", 20, "web-1 ready")
        assert agents.require_ready(db, "web-1").name == "web-1"
        assert [a.name for a in agents.ready_agents(db, {"role": "web"})] == ["web-1"]
        assert agents.ready_agents(db, {"role": "db"}) == []
        task = tasks.enqueue(db, "web-1", "inspect", {"project": project}, f"inspect-{project}", repeatable=True)
        # the same idempotency key is the same task
        assert tasks.enqueue(db, "web-1", "inspect", {"project": project}, f"inspect-{project}",
                             repeatable=True) == task
        result = tasks.wait(db, task, 30)
        assert result.state == "succeeded", (result, log.read_text())
        assert result.facts is not None
        [seen] = result.facts["containers"]
        assert seen["name"] == f"{project}-web-1" and seen["service"] == "web" and seen["state"] == "created"
        assert seen["digests"] == [images.deb_digest]
        # SIGTERM: an idle agent exits at once, cleanly
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0, log.read_text()
        assert "stopped" in log.read_text()
        # no heartbeat within the grace: down, and a deploy needing it is refused by name
        wait_for(lambda: listed(service)["web-1"]["state"] == "down", 10, "web-1 down")
        from appliance.errors import AgentDown
        with pytest.raises(AgentDown, match=r"agent web-1 is down: no heartbeat since 20"):
            agents.require_ready(db, "web-1")
        assert agents.ready_agents(db, {"role": "web"}) == []
    finally:
        stop(proc)
        ctr.remove(force=True)
        db.close()


def test_kill_9_while_holding_a_lease(service: Service, tmp_path: Path, docker_host: str, timing: None) -> None:
    """A health probe of a port that accepts but never answers holds its lease (the probe waits
    out its 30 s); kill -9 the agent: the lease expires; a non-repeatable task is expired and
    reported, a repeatable one is offered again to the restarted agent."""
    import socket

    from kit.timeutil import now

    state, log = tmp_path / "state", tmp_path / "agent.log"
    registered(service, state, "web-2")
    db = open_db(service.home / "stella.db")
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    slow = {"port": silent.getsockname()[1], "path": "/health", "timeout": 30}
    proc = start_agent(service, state, docker_host, log)
    try:
        wait_for(lambda: listed(service)["web-2"]["state"] == "ready", 20, "web-2 ready")
        once = tasks.enqueue(db, "web-2", "health", slow, f"h-once-{uuid.uuid4().hex[:8]}", repeatable=False)
        wait_for(lambda: tasks.get(db, once).state == "leased", 20, "the task leased")
        lease = db.execute("SELECT lease_id FROM agent_tasks WHERE id = ?", [once]).fetchone()[0]
        time.sleep(4)          # longer than a lease (3 s): the heartbeats naming it extended it
        assert tasks.get(db, once).state == "leased"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        gone = tasks.wait(db, once, 20)
        assert gone.state == "expired" and gone.attempts == 1 and f"lease {lease} expired" in (gone.detail or "")
        events = [json.loads(d) for (d,) in db.execute(
            "SELECT details FROM audit_events WHERE action = 'agent.lease-expired'")]
        assert any(e["task"] == once and e["then"] == "expired" and e["lease"] == lease for e in events)

        # a repeatable task, the agent killed again while it holds it
        proc = start_agent(service, state, docker_host, log)
        again = tasks.enqueue(db, "web-2", "health", slow, f"h-again-{uuid.uuid4().hex[:8]}", repeatable=True)
        wait_for(lambda: tasks.get(db, again).state == "leased", 20, "the repeatable task leased")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

        def requeued() -> bool:
            tasks.expire(db, now())
            return tasks.get(db, again).state == "queued"
        wait_for(requeued, 10, "the repeatable task re-queued")
        silent.close()          # the port is closed now: the second attempt fails fast, by name
        proc = start_agent(service, state, docker_host, log)
        done = tasks.wait(db, again, 30)
        assert done.state == "failed" and done.attempts == 2 and "/health" in (done.detail or ""), done
        assert tasks.get(db, once).state == "expired"        # never re-run
    finally:
        stop(proc)
        silent.close()
        db.close()


def test_register_and_run_on_the_agent_listener_alone(service: Service, tmp_path: Path, docker_host: str,
                                                      timing: None) -> None:
    """The issue's commands as written: register at https://…:8444 with the token and the fingerprint
    only (the listener's certificate is verified against the CA the fingerprint pins), then run
    with no --appliance (the URL registered with)."""
    made, state, log = token(service), tmp_path / "state", tmp_path / "agent.log"
    r = agent("register", "--appliance", service.agent_url, "--token", made["token"], "--state", str(state),
              "--name", "web-3", "--ca-fingerprint", made["caFingerprint"])
    assert r.returncode == 0, r.stderr
    # a wrong fingerprint: the fetched CA is not trusted, so the listener's certificate is not either
    made2 = token(service)
    wrong = agent("register", "--appliance", service.agent_url, "--token", made2["token"], "--state",
                  str(tmp_path / "w"), "--name", "web-3w", "--ca-fingerprint", "sha256:" + "ab" * 32)
    assert wrong.returncode == 4 and "io-error" in wrong.stderr, wrong.stderr
    assert "web-3w" not in listed(service)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "STELLA_AGENT_INTERVAL": "0.5"}
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-c", "from agent.cli import main; main()", "run", "--state",
                                 str(state), "--docker", docker_host], env=env, stdout=out, stderr=out)
    try:
        wait_for(lambda: listed(service)["web-3"]["state"] == "ready", 20, "web-3 ready")
        # revoked: the next poll is refused and the agent stops with that error
        assert _cli(service.home, "agent", "revoke", "web-3", "--reason", "test", user="admin").exit_code == 0
        assert proc.wait(20) == 1
        assert "error: certificate-refused: " in log.read_text() and "agent web-3 was revoked" in log.read_text()
    finally:
        stop(proc)


def test_deploy_health_and_sticker_through_the_agent(service: Service, tmp_path: Path, docker_host: str,
                                                     registry: str, timing: None) -> None:
    """A lock file deployed by the agent with docker compose (the image pulled by digest from the
    registry), a health probe of what it serves, the sticker written and read back, and a
    release whose container crashes reported failed with the facts of what runs."""
    import yaml

    from tests.appliance.deploy.site import free_port, rootfs, web
    from tests.images import docker_import_push

    tag = f"agent-{uuid.uuid4().hex[:8]}"
    digest = docker_import_push(docker_host, registry, rootfs(tag), "stella-test/agent-web", tag)
    image = f"{registry}/stella-test/agent-web@{digest}"
    engine = docker.DockerClient(base_url=docker_host)
    with contextlib.suppress(docker.errors.ImageNotFound):
        engine.images.remove(image, force=True)        # the agent's compose must pull it by digest
    port, project = free_port(), f"agent{uuid.uuid4().hex[:8]}"
    lock = yaml.safe_dump({"name": project, "services": {"web": {**web(port), "image": image}}})
    crash = yaml.safe_dump({"name": project, "services": {"web": {**web(port, crash=True), "image": image}}})
    state, log = tmp_path / "state", tmp_path / "agent.log"
    registered(service, state, "web-4")
    proc = start_agent(service, state, docker_host, log)
    db = open_db(service.home / "stella.db")
    try:
        wait_for(lambda: listed(service)["web-4"]["state"] == "ready", 20, "web-4 ready")

        def run(kind: str, payload: dict[str, Any], repeatable: bool = True) -> tasks.Result:
            task = tasks.enqueue(db, "web-4", kind, payload, f"{kind}-{uuid.uuid4().hex}", repeatable=repeatable)
            return tasks.wait(db, task, 120)

        done = run("deploy", {"project": project, "lock": lock, "registry": registry, "timeout": 60}, False)
        assert done.state == "succeeded", (done, log.read_text()[-2000:])
        assert done.facts is not None and done.facts["before"] == []
        [ctr] = done.facts["containers"]
        assert ctr["service"] == "web" and ctr["state"] == "running" and ctr["health"] == "healthy"
        assert ctr["digests"] == [digest]
        assert (state / "projects" / project / "compose.lock.yaml").read_text() == lock
        probe = run("health", {"port": port, "path": "/"})
        assert probe.state == "succeeded" and probe.facts == {"status": 200}, probe
        assert run("health", {"port": free_port()}).state == "failed"              # nothing listens there
        sticker = '{"payloadType":"application/vnd.stella.version-sticker+json"}'
        assert run("sticker-write", {"project": project, "sticker": sticker}, False).state == "succeeded"
        read = run("sticker-read", {"project": project})
        assert read.state == "succeeded" and read.facts == {"sticker": sticker}
        failed = run("deploy", {"project": project, "lock": crash, "timeout": 60}, False)
        assert failed.state == "failed" and "not healthy" in (failed.detail or ""), failed
        assert failed.facts is not None and failed.facts["before"][0]["health"] == "healthy"
        # a lock file whose image is not pinned by digest, or not from the task's registry: refused, nothing run
        loose = lock.replace(image, f"{registry}/stella-test/agent-web:{tag}")
        refused = run("deploy", {"project": project, "lock": loose, "timeout": 60}, False)
        assert refused.state == "failed" and "is not pinned by digest" in (refused.detail or ""), refused
        elsewhere = run("deploy", {"project": project, "lock": lock, "registry": "10.0.0.5:5000"}, False)
        assert elsewhere.state == "failed" and "is not from the registry 10.0.0.5:5000" in (elsewhere.detail or "")
        assert (state / "projects" / project / "compose.lock.yaml").read_text() == crash     # not rewritten
        # a payload the type does not take is refused on enqueue, before any agent sees it
        from kit.agentproto import BadMessage
        with pytest.raises(BadMessage, match="unknown member 'command'"):
            tasks.enqueue(db, "web-4", "inspect", {"project": project, "command": "rm -rf /"}, "bad-payload-1",
                          repeatable=True)
    finally:
        stop(proc)
        db.close()
        for c in engine.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"}):
            c.remove(force=True)
        with contextlib.suppress(docker.errors.NotFound):
            engine.volumes.get(f"stella-sticker-{project}").remove(force=True)
        engine.close()
