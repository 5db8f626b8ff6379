"""Agent targets on the estate (tests/estate.py): two hosts, each a network namespace with its own
dockerd, each running ``stella-agent run`` inside its namespace and dialling the appliance's agent
listener at the appliance's LAN address (10.77.0.254). One target selects both agents.

- v1 to both hosts; v2 failing its health check on one host → both hosts back on v1 (same digests);
- a host's link down (``ip link set … down`` inside its namespace) → its agent goes ``down`` and
  the next deploy is refused with ``agent-down`` before anything changes.

The health check's port comes from an env file in each agent's own project folder (an agent
target's env file is a path on the host, relative to that folder): the one way to make the same
release fail on one host only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import httpx
import pytest

from tests.appliance.deploy.agents import TIMING
from tests.appliance.deploy.conftest import Site
from tests.appliance.deploy.site import Rel, free_port
from tests.appliance.helpers import ROOT
from tests.estate import APPLIANCE_ADDR, Estate, estate  # noqa: F401  (fixture)

pytestmark = [pytest.mark.services, pytest.mark.estate]
HOSTS = (1, 2)
PROJECT = "agentshop"


@pytest.fixture(scope="module")
def lan_registry(estate: Estate, appliance_registry: str) -> str:  # noqa: F811
    """The appliance registry as the hosts reach it (5001: the Swarm tests publish 5000)."""
    return estate.publish(int(appliance_registry.rsplit(":", 1)[1]), 5001)


@dataclass
class Appliance:
    proc: subprocess.Popen[bytes]
    base_url: str           # loopback, plain HTTP: registration from this namespace
    agent_url: str          # the agent listener at the appliance's LAN address


def _serve(site: Site, estate: Estate, lan_port: int) -> Appliance:  # noqa: F811
    port, agent_port = free_port(), free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), **TIMING}
    env.pop("STELLA_USER", None)
    proc = subprocess.Popen([sys.executable, "-c", "from appliance.cli import main; main()", "serve", "--listen",
                             f"127.0.0.1:{port}", "--no-tls", "--agent-listen", f"127.0.0.1:{agent_port}",
                             "--agent-host", APPLIANCE_ADDR, "--home", str(site.home)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("stella serve did not start")
        time.sleep(0.2)
    estate.publish(agent_port, lan_port)
    return Appliance(proc, f"http://127.0.0.1:{port}", f"https://{APPLIANCE_ADDR}:{lan_port}")


def _agent_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from agent.cli import main; main()", *args], text=True,
                          capture_output=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})


@dataclass
class Host:
    number: int
    name: str
    engine: str
    state: Path
    proc: subprocess.Popen[bytes]
    netns: str              # its network namespace, and its link to the LAN in there
    link: str


@pytest.fixture()
def hosts(site: Site, estate: Estate, lan_registry: str,  # noqa: F811
          monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Site, dict[int, Host], str]]:
    for k, v in TIMING.items():
        monkeypatch.setenv(k, v)
    app = _serve(site, estate, 8000 + free_port() % 1000)
    role = f"r{uuid.uuid4().hex[:8]}"
    out: dict[int, Host] = {}
    try:
        for i in HOSTS:
            r = site.run("agent", "token", "create", "--labels", f"role={role}", "--json", user="root")
            made = json.loads(r.output)
            state = site.tmp / f"estate-agent-{i}"
            done = _agent_cli("register", "--appliance", app.base_url, "--token", made["token"], "--state",
                              str(state), "--name", f"{role}-h{i}", "--ca-fingerprint", made["caFingerprint"])
            assert done.returncode == 0, done.stderr
            folder = state / "projects" / PROJECT          # the host's env file, in the agent's project folder
            folder.mkdir(parents=True, mode=0o700)
            (folder / "host.env").write_text(f"HEALTH_PORT={PORT if i == 1 else PORT + 1}\n")
            log = (site.tmp / f"estate-agent-{i}.log").open("ab")
            proc = subprocess.Popen(["nsenter", f"--net={estate.netns(i)}", sys.executable, "-c",
                                     "from agent.cli import main; main()", "run", "--state", str(state),
                                     "--appliance", app.agent_url, "--docker", estate.hosts[i]],
                                    env={**os.environ, "PYTHONPATH": str(ROOT), **TIMING}, stdout=log, stderr=log)
            out[i] = Host(i, f"{role}-h{i}", estate.hosts[i], state, proc, estate.netns(i), f"{estate.prefix}v{i}")
        r = site.run("target", "add", "dev-web", "--env", "dev", "--agent-labels", f"role={role}", "--project",
                     PROJECT, "--env-file", "host.env", "--registry", lan_registry, user="root")
        assert r.exit_code == 0, r.output
        _wait(lambda: all(_states(site).get(h.name) == "ready" for h in out.values()), 30, "both agents ready")
        yield site, out, role
    finally:
        for h in out.values():
            subprocess.run(["nsenter", f"--net={h.netns}", "ip", "link", "set", h.link, "up"], check=False)
            if h.proc.poll() is None:
                h.proc.kill()
                h.proc.wait(10)
            c = docker.DockerClient(base_url=h.engine)
            for ctr in c.containers.list(all=True, filters={"label": f"com.docker.compose.project={PROJECT}"}):
                ctr.remove(force=True)
            for vol in c.volumes.list(filters={"label": "stella.sticker=1"}):
                vol.remove(force=True)
            c.close()
        app.proc.kill()
        app.proc.wait(10)


PORT = 18000 + os.getpid() % 1000


def _web(version: int) -> dict[str, object]:
    """busybox httpd on PORT; v2's health check asks ${HEALTH_PORT} (the host's env file)."""
    health = "${HEALTH_PORT}" if version == 2 else str(PORT)
    return {"network_mode": "host", "restart": "no", "stop_signal": "SIGKILL",
            "command": ["/bin/busybox", "sh", "-c", f"exec /bin/busybox httpd -f -p 127.0.0.1:{PORT} -h /www"],
            "healthcheck": {"test": ["CMD", "/bin/busybox", "wget", "-q", "-O", "/dev/null",
                                     f"http://127.0.0.1:{health}/"],
                            "interval": "1s", "timeout": "1s", "retries": 2, "start_period": "0s"}}


def _states(site: Site) -> dict[str, str]:
    return {a["name"]: a["state"] for a in json.loads(site.run("agent", "list", "--json", user="root").output)}


def _wait(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout}s: {what}")


def _digests(engine: str) -> dict[str, tuple[str, ...]]:
    client = docker.DockerClient(base_url=engine)
    try:
        out = {}
        for ctr in client.containers.list(filters={"label": f"com.docker.compose.project={PROJECT}"}):
            image = client.images.get(ctr.attrs["Image"])
            out[ctr.labels["com.docker.compose.service"]] = tuple(sorted(d.split("@")[1]
                                                                          for d in image.attrs["RepoDigests"]))
        return out
    finally:
        client.close()


def test_two_agent_hosts_rollback_together_and_a_link_down_refuses(
        hosts: tuple[Site, dict[int, Host], str]) -> None:
    site, by_number, _role = hosts
    site.import_([Rel("shop", "1.0.0", {"web": _web(1)}, {"web": "shop web 1"}),
                  Rel("shop", "2.0.0", {"web": _web(2)}, {"web": "shop web 2"})])
    r = site.run("deploy", site.promote("shop@1.0.0"), "--json", user="dave")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert [h["agent"] for h in doc["targets"][0]["hosts"]] == [h.name for h in by_number.values()]
    v1 = {i: _digests(h.engine) for i, h in by_number.items()}
    assert all(list(d) == ["web"] for d in v1.values()) and v1[1] == v1[2], v1

    # v2 is healthy on host 1 and fails its health check on host 2: both hosts back on v1
    r = site.run("deploy", site.promote("shop@2.0.0"), "--json", user="dave")
    assert r.exit_code == 1, r.output
    doc, _ = json.JSONDecoder().raw_decode(r.output)        # the report, then the error line
    [t] = doc["targets"]
    assert [(h["agent"], h["ok"]) for h in t["hosts"]] == [(by_number[1].name, True), (by_number[2].name, False)]
    assert "unhealthy" in t["error"] and by_number[2].name in t["error"], t["error"]
    assert [(h["agent"], h["action"], h["ok"]) for h in t["rollback"]["hosts"]] == [
        (by_number[1].name, "reapplied", True), (by_number[2].name, "reapplied", True)]
    assert {i: _digests(h.engine) for i, h in by_number.items()} == v1
    assert site.run("drift", "dev-web").exit_code == 0     # type: ignore[attr-defined]

    # host 2's link down inside its namespace: its agent goes down, the next deploy is refused
    _link(by_number[2], "down")
    _wait(lambda: _states(site).get(by_number[2].name) == "down", 20, "host 2's agent down")
    p3 = site.promote("shop@2.0.0")
    r = site.run("deploy", p3, user="dave")
    assert r.exit_code == 1 and f"agent {by_number[2].name} is down" in r.output, \
        r.output
    assert json.loads(site.run("promotion", "show", p3, "--json").output)["promotion"]["state"] == \
        "approved"
    assert {i: _digests(h.engine) for i, h in by_number.items()} == v1
    _link(by_number[2], "up")
    _wait(lambda: _states(site).get(by_number[2].name) == "ready", 40, "host 2's agent ready again")


def _link(host: Host, state: str) -> None:
    subprocess.run(["nsenter", f"--net={host.netns}", "ip", "link", "set", host.link, state], check=True)
