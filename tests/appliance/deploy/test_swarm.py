"""Swarm targets on the estate's real three-node Swarm: v1 converges with the lock's digests
on every node; v2, whose task on one node fails its healthcheck, leaves the whole stack
back on v1's lock file (every service, digests checked per service) with a rollback
packet; drift per service and per task."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
import yaml

from tests.appliance.deploy.conftest import Site
from tests.appliance.deploy.site import Rel
from tests.appliance.helpers import stella_proc
from tests.estate import Estate, estate  # noqa: F401  (fixture)

pytestmark = [pytest.mark.services, pytest.mark.estate]
STACK = "shop"


@pytest.fixture(scope="module")
def lan_registry(estate: Estate, appliance_registry: str) -> str:  # noqa: F811
    """The appliance registry (on this session's loopback) as the Swarm nodes reach it."""
    return estate.publish(int(appliance_registry.rsplit(":", 1)[1]), 5000)


@pytest.fixture()
def swarm(estate: Estate) -> Iterator[docker.DockerClient]:  # noqa: F811
    client = docker.DockerClient(base_url=estate.manager)
    try:
        yield client
    finally:
        subprocess.run(["docker", "-H", estate.manager, "stack", "rm", STACK], capture_output=True, check=False)
        # the tasks' containers go asynchronously: wait until none is left on any host (the next
        # test binds the same ports), removing them, and the sticker volume
        deadline = time.monotonic() + 30
        for host in estate.hosts.values():
            c = docker.DockerClient(base_url=host)
            while time.monotonic() < deadline:
                left = c.containers.list(all=True, filters={"label": f"com.docker.stack.namespace={STACK}"})
                if not left:
                    break
                for ctr in left:
                    with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                        ctr.remove(force=True)
                time.sleep(0.2)
            for vol in c.volumes.list(filters={"label": "stella.sticker=1"}):
                with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                    vol.remove(force=True)
            c.close()
        client.close()


def _web(port: int, fail_slot: int | None = None) -> dict[str, object]:
    """busybox httpd on each node's loopback, one task per node; the healthcheck fails on the
    task in *fail_slot* (a task's slot is in its environment)."""
    probe = f"/bin/busybox wget -q -O /dev/null http://127.0.0.1:{port}/"
    check = f'test "$$SLOT" != {fail_slot} && {probe}' if fail_slot else probe
    return {"network_mode": "host", "environment": {"SLOT": "{{.Task.Slot}}"},
            "command": ["/bin/busybox", "sh", "-c", f"exec /bin/busybox httpd -f -p 127.0.0.1:{port} -h /www"],
            "stop_signal": "SIGKILL",
            "healthcheck": {"test": ["CMD", "/bin/busybox", "sh", "-c", check], "interval": "500ms",
                            "timeout": "1s", "retries": 2, "start_period": "0s"},
            "deploy": {"replicas": 3, "placement": {"max_replicas_per_node": 1}}}


def _api(port: int) -> dict[str, object]:
    return {"network_mode": "host", "stop_signal": "SIGKILL",
            "command": ["/bin/busybox", "sh", "-c", f"exec /bin/busybox httpd -f -p 127.0.0.1:{port} -h /www"],
            "deploy": {"replicas": 1}}


def _running(client: docker.DockerClient) -> dict[str, dict[str, object]]:
    """Per service of the stack: the digests its running tasks run, and on how many nodes."""
    out: dict[str, dict[str, object]] = {}
    for svc in client.services.list(filters={"label": f"com.docker.stack.namespace={STACK}"}):
        tasks = [t for t in svc.tasks(filters={"desired-state": "running"}) if t["Status"]["State"] == "running"]
        out[svc.name.removeprefix(f"{STACK}_")] = {
            "digests": sorted({t["Spec"]["ContainerSpec"]["Image"].split("@")[1] for t in tasks}),
            "nodes": len({t["NodeID"] for t in tasks}), "update": (svc.attrs.get("UpdateStatus") or {}).get("State")}
    return out


def _whereis(site: Site) -> dict[str, str]:
    show = json.loads(site.run("whereis", "--json").output)
    assert show, "nothing deployed"
    return {name: s["digest"] for name, s in show[0]["services"].items()}


def test_swarm_stack_converges_and_a_failing_node_rolls_the_whole_stack_back(
        site: Site, estate: Estate, lan_registry: str, swarm: docker.DockerClient,  # noqa: F811
        tmp_path: Path) -> None:
    site.import_([Rel("shop", "1.0.0", {"web": _web(8080), "api": _api(8081)},
                      {"web": "shop web 1", "api": "shop api 1"}),
                  Rel("shop", "2.0.0", {"web": _web(8080, fail_slot=3), "api": _api(8081)},
                      {"web": "shop web 2", "api": "shop api 2"})])
    r = site.run("target", "add", "sw", "--env", "dev", "--swarm", estate.manager, "--project", STACK,
                 "--registry", lan_registry, "--json", user="root")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["kind"] == "swarm"

    # v1: every service converged on the lock's digests, web on all three nodes
    r = site.run("deploy", site.promote("shop@1.0.0"), "--json", user="dave")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["state"] == "deployed", doc
    lock = yaml.safe_load(doc["targets"][0]["lockFile"])
    assert "name" not in lock and lock["version"] == "3.8"
    assert lock["networks"]["hostnet"] == {"external": True, "name": "host"}
    update = lock["services"]["web"]["deploy"]["update_config"]
    assert update["monitor"] == "1s" and update["failure_action"] == "pause" and update["order"] == "stop-first"
    v1 = {name: s["labels"]["stella.digest"] for name, s in lock["services"].items()}
    assert all(s["image"].startswith(f"{lan_registry}/") for s in lock["services"].values())
    running = _running(swarm)
    assert {n: s["digests"] for n, s in running.items()} == {n: [d] for n, d in v1.items()}
    assert running["web"]["nodes"] == 3
    tasks = {s["service"]: s["tasks"] for s in doc["targets"][0]["services"]}
    assert len(tasks["web"]) == 3 and {t["state"] for t in tasks["web"]} == {"running"}
    assert len({t["node"]["addr"] for t in tasks["web"]}) == 3
    assert site.run("drift", "sw").exit_code == 0

    # v2: web's task on one node never turns healthy → the whole stack back on v1's lock file
    packet = tmp_path / "rollback.stella-evidence"
    p2 = site.promote("shop@2.0.0")
    r = site.run("deploy", p2, "--evidence", str(packet), user="dave")
    assert r.exit_code == 1, r.output
    assert "web task-failed" in r.output and "unhealthy container" in r.output, r.output
    assert "api" not in r.output.split("stella deploy: error:")[1], r.output     # only what failed is named
    running = _running(swarm)
    assert {n: s["digests"] for n, s in running.items()} == {n: [d] for n, d in v1.items()}, running
    assert running["web"]["nodes"] == 3 and running["api"]["update"] == "completed"
    event = json.loads(base64.b64decode(json.loads(packet.read_bytes())["payload"]))["event"]
    back = event["targets"][0]["rollback"]
    assert back["action"] == "reapplied" and back["release"] == "shop@1.0.0" and back["ok"], back
    assert {s["service"]: s["digests"] for s in back["services"]} == {n: [d] for n, d in v1.items()}
    show = json.loads(site.run("promotion", "show", p2, "--json").output)
    assert show["promotion"]["state"] == "failed"
    assert _whereis(site) == v1
    assert site.run("drift", "sw").exit_code == 0

    # drift per service and per task: a service scaled down by hand, one task moved off its digest
    swarm.services.get(f"{STACK}_web").scale(2)
    r = site.run("drift", "sw", "--json")
    assert r.exit_code == 1, r.output
    kinds = {(d["service"], d["kind"]) for d in json.loads(r.output)["targets"][0]["differences"]}
    assert ("web", "replicas") in kinds, kinds
    other = str(yaml.safe_load(doc["targets"][0]["lockFile"])["services"]["web"]["image"])
    subprocess.run(["docker", "-H", estate.manager, "service", "update", "--detach", "--no-resolve-image",
                    "--image", other, f"{STACK}_api"], check=True, capture_output=True)
    r = site.run("drift", "sw", "--json")
    found = json.loads(r.output)["targets"][0]["differences"]
    assert any(d["service"] == "api" and d["kind"] == "image-digest" and "the service runs" in d["detail"]
               for d in found), found



def test_a_worker_is_refused_and_a_failed_first_deploy_leaves_no_stack(
        site: Site, estate: Estate, lan_registry: str, swarm: docker.DockerClient) -> None:  # noqa: F811
    site.import_([Rel("shop", "2.0.0", {"web": _web(8080, fail_slot=2)}, {"web": "shop web 2"})])
    worker = estate.hosts[2]
    assert site.run("target", "add", "sw", "--env", "dev", "--swarm", worker, "--project", STACK,
                    "--registry", lan_registry, user="root").exit_code == 0
    promotion = site.promote("shop@2.0.0")
    r = site.run("deploy", promotion, user="dave")          # refused before anything changes
    assert r.exit_code == 4 and "engine-unreachable" in r.output and "is not a Swarm manager" in r.output, r.output
    assert json.loads(site.run("promotion", "show", promotion, "--json").output)["promotion"]["state"] == "approved"
    assert not swarm.services.list(filters={"label": f"com.docker.stack.namespace={STACK}"})

    assert site.run("target", "remove", "sw", user="root").exit_code == 0
    assert site.run("target", "add", "sw2", "--env", "dev", "--swarm", estate.manager, "--project", STACK,
                    "--registry", lan_registry, user="root").exit_code == 0
    r = site.run("deploy", promotion, "--json", user="dave")
    assert r.exit_code == 1, r.output
    back = json.JSONDecoder().raw_decode(r.output)[0]["targets"][0]["rollback"]     # then the error line
    assert back["action"] == "removed" and back["ok"], back
    assert not swarm.services.list(filters={"label": f"com.docker.stack.namespace={STACK}"})
    assert site.run("whereis", "--json").output.strip() == "[]"


def test_a_deploy_killed_before_stack_deploy_is_settled_on_the_swarm_by_resume(
        site: Site, estate: Estate, lan_registry: str, swarm: docker.DockerClient) -> None:  # noqa: F811
    site.import_([Rel("shop", "1.0.0", {"api": _api(8081)}, {"api": "shop api 1"}),
                  Rel("shop", "2.0.0", {"api": _api(8081)}, {"api": "shop api 2"})])
    assert site.run("target", "add", "sw", "--env", "dev", "--swarm", estate.manager, "--project", STACK,
                    "--registry", lan_registry, user="root").exit_code == 0
    assert site.run("deploy", site.promote("shop@1.0.0"), user="dave").exit_code == 0
    v1 = _running(swarm)
    pid = site.promote("shop@2.0.0")
    proc = stella_proc("deploy", pid, "--as", "dave", home=site.home,
                       env={"STELLA_TEST_PAUSE_AT": "deploy-before-up"}, start_new_session=True)
    try:
        assert proc.stderr is not None
        deadline, line = time.monotonic() + 60, ""
        while "stella-test-pause" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
        assert "deploy-before-up" in line
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    # the stack was not touched: resume finds it not converged on v2 and puts v1's lock file back
    r = site.run("deploy", "--resume", user="dave")
    assert r.exit_code == 0 and "rolled back to shop@1.0.0" in r.output, r.output
    assert _running(swarm) == v1
    assert json.loads(site.run("whereis", "--json").output)[0]["release"] == "shop@1.0.0"
    assert site.run("drift", "sw").exit_code == 0
