"""Bad input and faults: each ends with a clear message and a consistent state."""

from __future__ import annotations

import json
import os
import signal
import socket
import time

from tests.appliance.deploy.conftest import Site
from tests.appliance.deploy.site import Rel, free_port, web
from tests.appliance.helpers import stella_proc


def _state(site: Site, pid: str) -> str:
    return str(json.loads(site.run("promotion", "show", pid, "--json").stdout)["promotion"]["state"])


def _containers(site: Site, project: str) -> list[str]:
    client = site.client()
    try:
        return [c.name for c in client.containers.list(all=True,
                                                       filters={"label": f"com.docker.compose.project={project}"})]
    finally:
        client.close()


def test_template_image_not_in_release(site: Site) -> None:
    site.import_([Rel("shop", "1.0.0", {"web": web(free_port(), image="registry.example/other/thing:9")},
                      {"web": "shop web 1"})])
    project = site.target("dev-1")
    pid = site.promote("shop@1.0.0")
    r = site.run("deploy", pid, user="dave")
    assert r.exit_code == 3 and "image-not-in-release" in r.output and "other/thing" in r.output, r.output
    assert _state(site, pid) == "approved" and _containers(site, project) == []


def test_engine_down(site: Site, tmp_path) -> None:  # type: ignore[no-untyped-def]
    site.import_([Rel("shop", "1.0.0", {"web": web(free_port())}, {"web": "shop web 1"})])
    r = site.run("target", "add", "gone", "--env", "dev", "--docker", f"unix://{tmp_path}/no-docker.sock",
                 user="root")
    assert r.exit_code == 0, r.output
    pid = site.promote("shop@1.0.0")
    r = site.run("deploy", pid, user="dave")
    assert r.exit_code == 4 and "engine-unreachable" in r.output and "does not answer" in r.output, r.output
    assert _state(site, pid) == "approved"
    r = site.run("drift", "gone")
    assert r.exit_code == 4 and "does not answer" in r.output


def test_registry_unreachable_from_host(site: Site) -> None:
    site.import_([Rel("shop", "1.0.0", {"web": web(free_port())}, {"web": "shop web 1 unreachable"})])
    project = site.target("dev-1", "dev", "--registry", f"127.0.0.1:{free_port()}")
    pid = site.promote("shop@1.0.0")
    r = site.run("deploy", pid, "--json", user="dave")
    assert r.exit_code == 1, r.output
    assert "cannot pull" in r.output and "registry-unreachable" not in r.output.split("\n")[0]
    doc = json.loads(r.output[:r.output.rindex("}") + 1])
    assert doc["targets"][0]["rollback"]["action"] == "none"
    assert _state(site, pid) == "failed" and _containers(site, project) == []


def test_port_conflict_first_deploy_is_removed(site: Site) -> None:
    port = free_port()
    site.import_([Rel("shop", "1.0.0", {"web": web(port)}, {"web": "shop web 1"})])
    project = site.target("dev-1")
    pid = site.promote("shop@1.0.0")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        r = site.run("deploy", pid, user="dave")
    assert r.exit_code == 1, r.output
    assert "nothing to roll back to" in r.output and "stopped and removed" in r.output, r.output
    assert _state(site, pid) == "failed" and _containers(site, project) == []
    assert json.loads(site.run("whereis", "--json").output) == []


def test_killed_mid_deploy_is_rolled_back_by_the_next_command(site: Site) -> None:
    port = free_port()
    site.import_([Rel("shop", "1.0.0", {"web": web(port)}, {"web": "shop web 1"}),
                  Rel("shop", "2.0.0", {"web": web(port)}, {"web": "shop web 2"})])
    project = site.target("dev-1")
    assert site.run("deploy", site.promote("shop@1.0.0"), user="dave").exit_code == 0
    before = _containers(site, project)
    pid = site.promote("shop@2.0.0")
    proc = stella_proc("deploy", pid, "--as", "dave", home=site.home,
                       env={"STELLA_TEST_PAUSE_AT": "deploy-before-up"}, start_new_session=True)
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 60
        line = ""
        while "stella-test-pause" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
        assert "deploy-before-up" in line
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    assert _state(site, pid) == "deploying"
    # every command that opens the home notices it (stderr), status shows it; nothing is run
    for args in (("kits",), ("status",), ("status", "--json")):
        r = site.run(*args)
        assert r.exit_code == 0, r.output
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("stella: warning: deployment D-0002 ") \
            and "stella deploy --resume" in r.stderr and f"pid {proc.pid}" in r.stderr, r.stderr
    assert "UNFINISHED deployment D-0002 shop@2.0.0 → dev" in site.run("status").stdout
    [u] = json.loads(site.run("status", "--json").stdout)["unfinishedDeployments"]
    assert (u["deployment"], u["promotion"], u["state"], u["ownerAlive"], u["pid"]) == \
        ("D-0002", pid, "orphaned", False, str(proc.pid))
    assert _state(site, pid) == "deploying" and _containers(site, project) == before
    r = site.run("deploy", "--resume", user="dave")
    assert r.stderr == "", r.stderr
    assert r.exit_code == 0 and "rolled back to shop@1.0.0" in r.output, r.output
    assert _state(site, pid) == "failed" and _containers(site, project) == before
    assert json.loads(site.run("whereis", "--json").output)[0]["release"] == "shop@1.0.0"
    assert site.run("drift", "dev").exit_code == 0
    assert site.run("deploy", "--resume", user="dave").output.strip() == "no unfinished deployment"
    r = site.run("status", "--json")
    assert r.stderr == "" and json.loads(r.stdout)["unfinishedDeployments"] == []
