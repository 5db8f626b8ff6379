"""Deploy v1 (healthy) → v2 whose healthcheck fails → v1 runs again, same digests — on a local
target (the appliance drives the engine) and on an agent target (``--agent-labels``: the same
engine driven by a ``stella-agent`` through leased tasks)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tests.appliance.deploy.agents import AgentSite, local_and_agent_site  # noqa: F401  (the site fixture, both ways)
from tests.appliance.deploy.conftest import Site
from tests.appliance.deploy.site import Rel, free_port, web


def _running_digests(site: Site, project: str) -> dict[str, tuple[str, ...]]:
    client = site.client()
    try:
        out = {}
        for ctr in client.containers.list(filters={"label": f"com.docker.compose.project={project}"}):
            image = client.images.get(ctr.attrs["Image"])
            out[ctr.labels["com.docker.compose.service"]] = tuple(sorted(
                d.split("@")[1] for d in image.attrs["RepoDigests"]))
        return out
    finally:
        client.close()


def test_failed_health_rolls_back_to_v1(site: Site, tmp_path: Path) -> None:
    port = free_port()
    site.import_([Rel("shop", "1.0.0", {"web": web(port)}, {"web": "shop web 1"}),
                  Rel("shop", "2.0.0", {"web": web(port, health_port=free_port())}, {"web": "shop web 2"})])
    project = site.target("dev-1")
    p1 = site.promote("shop@1.0.0")
    r = site.run("deploy", p1, "--json", user="dave")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["state"] == "deployed" and doc["evidence"]["type"] == "deployment"
    v1 = _running_digests(site, project)
    assert list(v1) == ["web"]
    p2 = site.promote("shop@2.0.0")
    packet = tmp_path / "rollback.stella-evidence"
    r = site.run("deploy", p2, "--evidence", str(packet), user="dave")
    assert r.exit_code == 1, r.output
    assert "rolled back to shop@1.0.0" in r.output and "unhealthy" in r.output, r.output
    assert _running_digests(site, project) == v1
    show = json.loads(site.run("promotion", "show", p2, "--json").output)
    assert show["promotion"]["state"] == "failed"
    pub = tmp_path / "appliance.pub.json"
    assert site.run("key", "export", "--out", str(pub)).exit_code == 0
    from verifier.cli import cli as verify
    res = CliRunner().invoke(verify, ["evidence", str(packet), "--appliance-key", str(pub)])
    assert res.exit_code == 0, res.output
    exported = tmp_path / "exported.stella-evidence"
    assert site.run("evidence", "export", p2, "--type", "rollback", "--out", str(exported), user="erin").exit_code == 0
    assert exported.read_bytes() == packet.read_bytes()
    event = json.loads(__import__("base64").b64decode(json.loads(packet.read_bytes())["payload"]))["event"]
    assert event["targets"][0]["rollback"]["action"] == "reapplied" and "x-stella" in event["targets"][0]["lockFile"]
    if isinstance(site, AgentSite):     # the evidence names the host, and it was rolled back through its agent
        assert [h["agent"] for h in event["targets"][0]["hosts"]] == ["dev-1-host"]
        assert [(h["agent"], h["action"], h["ok"]) for h in event["targets"][0]["rollback"]["hosts"]] == [
            ("dev-1-host", "reapplied", True)]
        assert {s["host"] for s in event["targets"][0]["services"]} == {"dev-1-host"}


def test_rollback_command_redeploys_previous(site: Site) -> None:
    port = free_port()
    site.import_([Rel("shop", "1.0.0", {"web": web(port)}, {"web": "shop web 1"}),
                  Rel("shop", "2.0.0", {"web": web(port)}, {"web": "shop web 2"})])
    project = site.target("dev-1")
    r = site.run("rollback", "dev", user="dave")
    assert r.exit_code == 2 and "nothing to roll back to" in r.output, r.output
    assert site.run("deploy", site.promote("shop@1.0.0"), user="dave").exit_code == 0
    v1 = _running_digests(site, project)
    assert site.run("deploy", site.promote("shop@2.0.0"), user="dave").exit_code == 0
    assert _running_digests(site, project) != v1
    r = site.run("rollback", "dev", "--json", user="dave")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["promotion"]["release"] == "shop@1.0.0" and doc["promotion"]["state"] == "deployed"
    assert doc["promotion"]["reason"].startswith("rollback: rollback of shop@2.0.0 to shop@1.0.0")
    assert _running_digests(site, project) == v1
    where = json.loads(site.run("whereis", "--json").output)
    assert where[0]["release"] == "shop@1.0.0"
    assert site.run("drift", "dev-1").exit_code == 0
