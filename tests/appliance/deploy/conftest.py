"""Deploy tests: a real appliance registry, a home with users/environments, targets on the
test dockerd, and clean-up of every compose project and sticker volume they create."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docker
import pytest

from appliance.deploy.compose import Compose
from appliance.deploy.engine import sticker_volume
from appliance.home import Home
from appliance.registry import config as registry_config
from appliance.registry.serve import start
from kit.crypto import Signer
from tests.appliance.conftest import root, signer, trust_file  # noqa: F401  (fixtures)
from tests.appliance.deploy.site import Rel, build_kit, free_port
from tests.appliance.helpers import stella

pytestmark = pytest.mark.services


@pytest.fixture(scope="session")
def appliance_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not shutil.which("docker-registry"):
        pytest.skip("docker-registry is not installed")
    reg_home = Home(tmp_path_factory.mktemp("appliance-registry"))
    reg_home.registry.mkdir(parents=True, exist_ok=True)
    settings = registry_config.RegistrySettings(f"127.0.0.1:{free_port()}")
    proc: subprocess.Popen[bytes] = start(reg_home, settings)
    try:
        yield settings.addr
    finally:
        proc.terminate()
        proc.wait(10)


@dataclass
class Site:
    home: Path
    tmp: Path
    signer: Signer
    docker_host: str
    registry: str
    projects: list[str] = field(default_factory=list)
    sequence: int = 0

    def run(self, *args: str, user: str | None = None) -> object:
        extra = ["--as", user] if user else []
        return stella(*args, *extra, home=self.home)

    def import_(self, rels: list[Rel]) -> None:
        self.sequence += 1
        path = build_kit(self.tmp, self.signer, rels, sequence=self.sequence)
        r = stella("import", str(path), home=self.home)
        assert r.exit_code == 0, r.output

    def target(self, name: str, env: str = "dev", *extra: str) -> str:
        project = f"t{free_port()}-{name}"
        self.projects.append(project)
        r = self.run("target", "add", name, "--env", env, "--docker", self.docker_host, "--project", project,
                     *extra, user="root")
        assert r.exit_code == 0, r.output
        return project

    def promote(self, ref: str, env: str = "dev") -> str:
        r = self.run("promote", ref, "--to", env, "--reason", "test", "--json", user="alice")
        assert r.exit_code == 0, r.output
        import json
        return str(json.loads(r.output)["promotion"]["id"])

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.docker_host)


@pytest.fixture()
def site(tmp_path: Path, trust_file: Path, signer: Signer, docker_host: str,  # noqa: F811
         appliance_registry: str) -> Iterator[Site]:
    home = tmp_path / "home"
    r = stella("init", "--trust", str(trust_file), "--registry-addr", appliance_registry, home=home)
    assert r.exit_code == 0, r.output
    s = Site(home, tmp_path, signer, docker_host, appliance_registry)
    for name, roles in (("root", ["admin"]), ("alice", ["requester"]), ("dave", ["deployer", "approver"]),
                        ("erin", ["auditor"])):
        r = s.run("user", "add", name, *[x for role in roles for x in ("--role", role)],
                  user=None if name == "root" else "root")
        assert r.exit_code == 0, r.output
    for name, order in (("dev", 1), ("stage", 2)):
        assert s.run("env", "create", name, "--order", str(order), user="root").exit_code == 0
    assert s.run("target", "settings", "dev", "--health-timeout", "20", user="root").exit_code == 0
    try:
        yield s
    finally:
        client = s.client()
        try:
            for project in s.projects:
                Compose(docker_host, project).down()
                for ctr in client.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"}):
                    ctr.remove(force=True)
                try:
                    client.volumes.get(sticker_volume(project)).remove(force=True)
                except docker.errors.NotFound:
                    pass
        finally:
            client.close()
