"""Agent targets on loopback (issue 14): ``stella target add --agent-labels``, a deploy refused
before anything changes when a selected agent is down (or none is selected), and an agent killed
mid-deploy — its lease expires, the deployment ends failed with the other target back on v1 and
the expired lease named in the report.

Two agent targets on the one test dockerd: each its own agent, Compose project and port (the
port, and a start-up delay, come from an env file on the "host" — an agent target's env file
is the agent's, never the appliance's).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator

import docker
import pytest

from tests.appliance.deploy.agents import AgentSite, agent_site
from tests.appliance.deploy.conftest import Site
from tests.appliance.deploy.site import Rel, free_port
from tests.appliance.helpers import ROOT

pytestmark = pytest.mark.services


def _web(version: int) -> dict[str, object]:
    """busybox httpd on ${PORT}; v2 first sleeps ${DELAY} s, its health check "starting" meanwhile."""
    delay = "sleep ${DELAY:-0}; " if version == 2 else ""
    return {"network_mode": "host", "restart": "no", "stop_signal": "SIGKILL",
            "command": ["/bin/busybox", "sh", "-c", delay + "exec /bin/busybox httpd -f -p 127.0.0.1:${PORT} -h /www"],
            "healthcheck": {"test": ["CMD", "/bin/busybox", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:${PORT}/"],
                            "interval": "1s", "timeout": "1s", "retries": 2, "start_period": "120s"}}


@pytest.fixture()
def agents(site: Site, monkeypatch: pytest.MonkeyPatch) -> Iterator[AgentSite]:
    s = agent_site(site, monkeypatch)
    try:
        yield s
    finally:
        s.stop()


def _two_targets(s: AgentSite, delay_on_2: int = 0) -> dict[str, str]:
    s.import_([Rel("shop", "1.0.0", {"web": _web(1)}, {"web": "shop web 1"}),
               Rel("shop", "2.0.0", {"web": _web(2)}, {"web": "shop web 2"})])
    projects = {}
    for name, delay in (("dev-1", 0), ("dev-2", delay_on_2)):
        env = s.tmp / f"{name}.env"
        env.write_text(f"PORT={free_port()}\nDELAY={delay}\n")
        projects[name] = s.target(name, "dev", "--env-file", str(env))
    return projects


def _digests(s: Site, project: str) -> dict[str, tuple[str, ...]]:
    client = s.client()
    try:
        out = {}
        for ctr in client.containers.list(filters={"label": f"com.docker.compose.project={project}"}):
            image = client.images.get(ctr.attrs["Image"])
            out[ctr.labels["com.docker.compose.service"]] = tuple(sorted(d.split("@")[1]
                                                                          for d in image.attrs["RepoDigests"]))
        return out
    finally:
        client.close()


def _tasks(s: Site, kind: str) -> list[tuple[str, str, str | None]]:
    with sqlite3.connect(s.home / "stella.db") as conn:
        return [(r[0], r[1], r[2]) for r in conn.execute(
            "SELECT agent, state, detail FROM agent_tasks WHERE kind = ? ORDER BY created, rowid", [kind])]


def test_target_add_list_show(agents: AgentSite) -> None:
    agents.target("dev-1")
    role = agents.label_of["dev-1"]
    listed = json.loads(agents.cli("target", "list", "--json", user=None).output)
    assert [(t["name"], t["kind"], t["agentLabels"], t["docker"]) for t in listed] == [
        ("dev-1", "agents", {"role": role}, f"agents:role={role}")]
    assert [(a["agent"], a["state"]) for a in listed[0]["agents"]] == [("dev-1-host", "ready")]
    shown = agents.cli("target", "show", "dev-1", user=None)
    assert "agents: dev-1-host (ready)" in shown.output, shown.output
    shown_json = json.loads(agents.cli("target", "show", "dev-1", "--json", user=None).output)
    assert shown_json["agents"][0]["agent"] == "dev-1-host"
    # one of --docker, --swarm, --agent-labels
    both = agents.cli("target", "add", "x", "--env", "dev", "--docker", agents.docker_host, "--agent-labels", "a=b")
    assert both.exit_code == 2 and "--agent-labels" in both.output, both.output
    bad = agents.cli("target", "add", "x", "--env", "dev", "--agent-labels", "no-equals")
    assert bad.exit_code != 0 and "KEY=VALUE" in bad.output, bad.output


def test_a_down_agent_refuses_the_deploy_before_anything_changes(agents: AgentSite) -> None:
    projects = _two_targets(agents)
    assert agents.cli("deploy", agents.promote("shop@1.0.0"), user="dave").exit_code == 0
    v1 = {n: _digests(agents, p) for n, p in projects.items()}
    assert all(list(d) == ["web"] for d in v1.values()), v1
    deploys = _tasks(agents, "deploy")
    assert [(a, st) for a, st, _ in deploys] == [("dev-1-host", "succeeded"), ("dev-2-host", "succeeded")]
    where = json.loads(agents.cli("whereis", "--json", user=None).output)
    assert [(w["target"], w["hosts"]) for w in where] == [("dev-1", ["dev-1-host"]), ("dev-2", ["dev-2-host"])]

    agents.kill("dev-2-host")
    agents.wait_state("dev-2-host", "down")
    p2 = agents.promote("shop@2.0.0")
    r = agents.cli("deploy", p2, user="dave")
    assert r.exit_code == 1, r.output
    assert "agent-down" in r.output or "is down" in r.output, r.output
    assert "target dev-2: agent dev-2-host is down: no heartbeat since" in r.output, r.output
    # nothing changed: the promotion still approved, no task queued, both targets still on v1
    promotion = json.loads(agents.cli("promotion", "show", p2, "--json", user=None).output)["promotion"]
    assert promotion["state"] == "approved"
    assert _tasks(agents, "deploy") == deploys
    assert {n: _digests(agents, p) for n, p in projects.items()} == v1

    # a selector no agent carries: refused the same way
    assert agents.cli("target", "remove", "dev-2").exit_code == 0
    assert agents.cli("target", "add", "dev-3", "--env", "dev", "--agent-labels", "role=nobody").exit_code == 0
    r = agents.cli("deploy", p2, user="dave")
    assert r.exit_code == 1 and "target dev-3 selects no agent: none carries role=nobody" in r.output, r.output
    assert _tasks(agents, "deploy") == deploys


def test_agent_killed_mid_deploy_lease_expires_deployment_failed_and_consistent(agents: AgentSite) -> None:
    projects = _two_targets(agents, delay_on_2=60)
    r = agents.cli("deploy", agents.promote("shop@1.0.0"), user="dave")
    assert r.exit_code == 0, r.output + agents.logs()
    v1 = {n: _digests(agents, p) for n, p in projects.items()}
    p2 = agents.promote("shop@2.0.0")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}       # the shortened agent timings are in os.environ
    proc = subprocess.Popen([sys.executable, "-c", "from appliance.cli import main; main()", "deploy", p2, "--json",
                             "--as", "dave", "--home", str(agents.home)], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # dev-1 gets v2 and is healthy; dev-2's v2 sleeps: kill its agent once its containers are up
        client = docker.DockerClient(base_url=agents.docker_host)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            leased = [t for t in _tasks(agents, "deploy") if t[0] == "dev-2-host" and t[1] == "leased"]
            started = client.containers.list(filters={"label": f"com.docker.compose.project={projects['dev-2']}"})
            if leased and started and started[0].labels.get("stella.release.id") == "shop@2.0.0":
                break
            time.sleep(0.1)
        else:
            raise AssertionError("dev-2's deploy never started\n" + agents.logs())
        client.close()
        agents.kill("dev-2-host")
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, out + err
    doc = json.loads(out)
    assert doc["state"] == "failed" and doc["evidence"]["type"] == "rollback", doc
    by = {t["target"]: t for t in doc["targets"]}
    # dev-2: the expired lease named; its host could not be rolled back (its agent is gone) and says so
    assert "lease" in by["dev-2"]["error"] and "expired" in by["dev-2"]["error"], by["dev-2"]
    assert "the agent stopped mid-deploy" in by["dev-2"]["error"]
    [host2] = by["dev-2"]["rollback"]["hosts"]
    assert host2["agent"] == "dev-2-host" and host2["action"] == "unreachable" and not host2["ok"]
    assert "expired" in host2["lease"] and "dev-2-host is down" in host2["error"], host2
    # dev-1: healthy on v2, then rolled back to v1 through its agent, same digests
    assert by["dev-1"]["ok"] and by["dev-1"]["rollback"]["action"] == "reapplied", by["dev-1"]
    assert [(h["agent"], h["action"], h["ok"]) for h in by["dev-1"]["rollback"]["hosts"]] == [
        ("dev-1-host", "reapplied", True)]
    assert _digests(agents, projects["dev-1"]) == v1["dev-1"]
    assert [st for a, st, _ in _tasks(agents, "deploy") if a == "dev-2-host"] == ["succeeded", "expired"]
    # recorded: the promotion failed, whereis unchanged (v1 everywhere), the expiry audited
    assert json.loads(agents.cli("promotion", "show", p2, "--json", user=None).output)["promotion"]["state"] == "failed"
    where = json.loads(agents.cli("whereis", "--json", user=None).output)
    assert {w["target"]: w["release"] for w in where} == {"dev-1": "shop@1.0.0", "dev-2": "shop@1.0.0"}
    with sqlite3.connect(agents.home / "stella.db") as conn:
        events = [json.loads(r[0]) for r in conn.execute("SELECT details FROM audit_events "
                                                         "WHERE action = 'agent.lease-expired'")]
    assert any(e["agent"] == "dev-2-host" and e["type"] == "deploy" and e["then"] == "expired" for e in events), events


def test_appliance_killed_mid_deploy_resume_waits_for_the_same_tasks(agents: AgentSite) -> None:
    """kill -9 of ``stella deploy`` while an agent runs its deploy task: ``--resume`` finds the tasks
    under their idempotency keys (none queued twice), waits for the one still running and finishes
    the deployment as deployed."""
    projects = _two_targets(agents, delay_on_2=4)
    assert agents.cli("deploy", agents.promote("shop@1.0.0"), user="dave").exit_code == 0
    p2 = agents.promote("shop@2.0.0")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", "from appliance.cli import main; main()", "deploy", p2,
                             "--as", "dave", "--home", str(agents.home)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not [t for t in _tasks(agents, "deploy") if t[0] == "dev-2-host" and t[1] == "leased"]:
            assert time.monotonic() < deadline, "dev-2's deploy never started\n" + agents.logs()
            time.sleep(0.05)
    finally:
        proc.kill()
        proc.wait(10)
    r = agents.cli("deploy", "--resume", "--json", user="dave")
    assert r.exit_code == 0, r.output
    [doc] = json.loads(r.output)
    assert doc["state"] == "deployed" and doc["release"] == "shop@2.0.0", doc
    assert [(t["target"], [h["agent"] for h in t["hosts"]]) for t in doc["targets"]] == [
        ("dev-1", ["dev-1-host"]), ("dev-2", ["dev-2-host"])]
    # one deploy task per host and release: the resumed deployment waited for the same ones
    assert [(a, st) for a, st, _ in _tasks(agents, "deploy")] == [
        ("dev-1-host", "succeeded"), ("dev-2-host", "succeeded"), ("dev-1-host", "succeeded"),
        ("dev-2-host", "succeeded")]
    where = json.loads(agents.cli("whereis", "--json", user=None).output)
    assert {w["target"]: w["release"] for w in where} == {"dev-1": "shop@2.0.0", "dev-2": "shop@2.0.0"}
    assert agents.cli("drift", "dev", user=None).exit_code == 0
    assert all(list(_digests(agents, p)) == ["web"] for p in projects.values())


def test_a_deploy_step_probe_on_agent_targets_is_refused_before_anything_changes(agents: AgentSite) -> None:
    """A workflow deploy step's health probe dials the target's engine host from the appliance: an
    agent target has none the appliance may dial, so the deploy is refused (not probed on the
    appliance's own loopback)."""
    from appliance.deploy import run, strategy
    from appliance.deploy.errors import ProbeNotSupported
    from appliance.home import Home
    from appliance.runs.probe import ProbeSpec
    from appliance.store.db import open_db
    from appliance.users import get as get_user

    _two_targets(agents)
    p1 = agents.promote("shop@1.0.0")
    db = open_db(agents.home / "stella.db")
    try:
        with pytest.raises(ProbeNotSupported, match="agent target.s. dev-1, dev-2"):
            run.deploy(Home(agents.home), db, p1, get_user(db, "dave"),
                       strategy=strategy.Strategy("rolling", probe=ProbeSpec("tcp", 8080)))
    finally:
        db.close()
    assert json.loads(agents.cli("promotion", "show", p1, "--json", user=None).output)["promotion"]["state"] == \
        "approved"
    assert _tasks(agents, "deploy") == []


def test_a_failed_first_deploy_is_removed_from_its_host(agents: AgentSite) -> None:
    """Nothing to roll back to: the agent's ``remove`` task stops and removes the failed stack and its
    sticker volume, as the appliance does on a local target."""
    crash = _web(1)
    crash["command"] = ["/bin/busybox", "sh", "-c", "exit 3"]
    agents.import_([Rel("shop", "1.0.0", {"web": crash}, {"web": "shop web 1"})])
    env = agents.tmp / "dev-1.env"
    env.write_text(f"PORT={free_port()}\n")
    project = agents.target("dev-1", "dev", "--env-file", str(env))
    r = agents.cli("deploy", agents.promote("shop@1.0.0"), "--json", user="dave")
    assert r.exit_code == 1, r.output
    doc, _ = json.JSONDecoder().raw_decode(r.output)
    [t] = doc["targets"]
    assert t["rollback"]["action"] == "removed" and t["rollback"]["ok"], t["rollback"]
    assert [(h["agent"], h["action"], h["ok"]) for h in t["rollback"]["hosts"]] == [("dev-1-host", "removed", True)]
    client = agents.client()
    try:
        assert client.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"}) == []
        assert client.volumes.list(filters={"name": f"stella-sticker-{project}"}) == []
    finally:
        client.close()
    assert [st for _, st, _ in _tasks(agents, "remove")] == ["succeeded"]
