"""Agent targets for the deploy tests (issue 14): the deploy site's own home served by a real
``stella serve`` (its mutual-TLS agent listener on loopback), agents registered by the real
``stella-agent register`` and run by ``stella-agent run`` against the test dockerd, and
targets added with ``--agent-labels`` instead of ``--docker``.

``agent_site(site, monkeypatch)`` turns a ``Site`` into one whose ``target()`` adds agent
targets: each target gets agents of its own (a label unique to it), so one test may have
several targets on the one test engine, each deploying its own Compose project. Timings are
shortened (interval 0.5 s, grace 2 s, lease 3 s) in the service, the agents and this process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from tests.appliance.deploy.conftest import Site
from tests.appliance.deploy.site import free_port
from tests.appliance.helpers import ROOT
from tests.appliance.web.conftest import Service, start_service

TIMING = {"STELLA_AGENT_INTERVAL": "0.5", "STELLA_AGENT_GRACE": "2", "STELLA_AGENT_LEASE": "3"}


def _agent_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from agent.cli import main; main()", *args], text=True,
                          capture_output=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})


@dataclass
class Host:
    """One agent: its state directory, its process (None when stopped) and its log."""

    name: str
    state: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None


@dataclass
class AgentSite(Site):
    service: Service | None = None
    hosts: dict[str, Host] = field(default_factory=dict)
    label_of: dict[str, str] = field(default_factory=dict)     # target → its role label

    def cli(self, *args: str, user: str | None = "root") -> Result:
        r = self.run(*args, user=user)
        assert isinstance(r, Result)
        return r

    def register(self, name: str, role: str) -> Host:
        assert self.service is not None
        r = self.cli("agent", "token", "create", "--labels", f"role={role}", "--json")
        assert r.exit_code == 0, r.output
        made = json.loads(r.output)
        host = Host(name, self.tmp / f"agent-{name}", self.tmp / f"agent-{name}.log")
        done = _agent_cli("register", "--appliance", self.service.base_url, "--token", made["token"],
                          "--state", str(host.state), "--name", name, "--ca-fingerprint", made["caFingerprint"])
        assert done.returncode == 0, done.stderr
        self.hosts[name] = host
        return host

    def start(self, name: str) -> None:
        assert self.service is not None
        host = self.hosts[name]
        env = {**os.environ, "PYTHONPATH": str(ROOT), **TIMING}
        with host.log.open("ab") as out:
            host.proc = subprocess.Popen([sys.executable, "-c", "from agent.cli import main; main()", "run",
                                          "--state", str(host.state), "--appliance", self.service.agent_url,
                                          "--docker", self.docker_host], env=env, stdout=out, stderr=out)

    def kill(self, name: str) -> None:
        """kill -9: no goodbye, no result, no more heartbeats."""
        proc = self.hosts[name].proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)
        self.hosts[name].proc = None

    def states(self) -> dict[str, str]:
        r = self.cli("agent", "list", "--json")
        return {a["name"]: a["state"] for a in json.loads(r.output)}

    def wait_state(self, name: str, state: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.states().get(name) == state:
                return
            time.sleep(0.1)
        raise AssertionError(f"agent {name} not {state} within {timeout}s: {self.states()}\n"
                             f"{self.hosts[name].log.read_text(errors='replace')[-3000:]}")

    def target(self, name: str, env: str = "dev", *extra: str) -> str:
        """An agent target served by one agent of its own (role label unique to the target)."""
        role = f"r{uuid.uuid4().hex[:8]}"
        self.label_of[name] = role
        host = f"{name.replace('.', '-')}-host"
        self.register(host, role)
        self.start(host)
        self.wait_state(host, "ready")
        project = f"t{free_port()}-{name}"
        self.projects.append(project)
        r = self.cli("target", "add", name, "--env", env, "--agent-labels", f"role={role}", "--project", project,
                     *extra)
        assert r.exit_code == 0, r.output
        return project

    def stop(self) -> None:
        for name in list(self.hosts):
            self.kill(name)
        if self.service is not None:
            self.service.stop()

    def logs(self) -> str:
        return "\n".join(f"--- {h.name}\n{h.log.read_text(errors='replace')[-2000:]}" for h in self.hosts.values()
                         if h.log.exists())


def agent_site(site: Site, monkeypatch: pytest.MonkeyPatch) -> AgentSite:
    """*site* with a real ``stella serve`` over its home and agent targets (stop it with ``stop()``)."""
    for k, v in TIMING.items():
        monkeypatch.setenv(k, v)
    fields: dict[str, Any] = {k: getattr(site, k) for k in ("home", "tmp", "signer", "docker_host", "registry",
                                                              "projects", "sequence")}
    out = AgentSite(**fields)
    out.service = start_service(site.home, env=TIMING)
    return out


@pytest.fixture(params=["local", "agent"], name="site")
def local_and_agent_site(request: pytest.FixtureRequest, site: Site,
                         monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """``site`` with its targets local or behind agents: import this fixture into a test module
    (``from tests.appliance.deploy.agents import local_and_agent_site``) to run its tests both ways."""
    if request.param == "local":
        yield site
        return
    agents = agent_site(site, monkeypatch)
    try:
        yield agents
    finally:
        agents.stop()
