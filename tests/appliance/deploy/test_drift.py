"""Drift made by hand with the Docker API, each kind reported; whereis lists what runs — on a
local target and on an agent target (drift read through the agent's inspect and sticker-read)."""

from __future__ import annotations

import json

import docker

from appliance.deploy import engine
from tests.appliance.deploy.agents import AgentSite, local_and_agent_site  # noqa: F401  (the site fixture, both ways)
from tests.appliance.deploy.conftest import Site
from tests.appliance.deploy.site import Rel, free_port, web


def _api(port: int) -> dict[str, object]:
    svc = web(port)
    svc["command"] = ["/bin/busybox", "sh", "-c",
                      f"touch /tmp/ok && exec /bin/busybox httpd -f -p 127.0.0.1:{port} -h /www"]
    svc["healthcheck"] = {"test": ["CMD", "/bin/busybox", "test", "-f", "/tmp/ok"], "interval": "1s", "timeout": "1s",
                          "retries": 1}
    return svc


def _kinds(site: Site) -> tuple[int, dict[str, set[str]]]:
    r = site.run("drift", "dev", "--json")
    doc = json.loads(r.output.split("\nstella")[0])
    found: dict[str, set[str]] = {}
    for t in doc["targets"]:
        for d in t["differences"]:
            found.setdefault(d["service"], set()).add(d["kind"])
    return r.exit_code, found


def _container(client: docker.DockerClient, project: str, service: str):  # type: ignore[no-untyped-def]
    return client.containers.list(all=True, filters={"label": [f"com.docker.compose.project={project}",
                                                               f"com.docker.compose.service={service}"]})[0]


def test_drift_kinds_and_whereis(site: Site) -> None:
    site.import_([Rel("shop", "1.0.0", {"web": web(free_port()), "api": _api(free_port())},
                      {"web": "shop web 1", "api": "shop api 1"})])
    project = site.target("dev-1")
    p1 = site.promote("shop@1.0.0")
    r = site.run("deploy", p1, user="dave")
    assert r.exit_code == 0, r.output
    r = site.run("drift", "dev")
    assert r.exit_code == 0 and "matches" in r.output, r.output
    where = json.loads(site.run("whereis", "shop", "--json").output)
    assert [(w["environment"], w["target"], w["release"]) for w in where] == [("dev", "dev-1", "shop@1.0.0")]
    assert set(where[0]["services"]) == {"api", "web"}

    client = site.client()
    try:
        web_ctr = _container(client, project, "web")
        api_ctr = _container(client, project, "api")
        # web: replaced by a container running api's image with a changed label (created, not started)
        labels = dict(web_ctr.labels, **{"stella.release.id": "shop@6.6.6"})
        web_ctr.remove(force=True)
        client.containers.create(api_ctr.attrs["Image"], command=["true"], labels=labels, network_mode="none",
                                 name=f"{project}-web-forged")
        # api: its healthcheck starts failing
        api_ctr.exec_run(["/bin/busybox", "rm", "/tmp/ok"])
        # an extra container in the project
        client.containers.create(api_ctr.attrs["Image"], command=["true"], network_mode="none",
                                 labels={"com.docker.compose.project": project, "com.docker.compose.service": "rogue"})
        # a sticker that is not signed by the appliance
        refs = [api_ctr.attrs["Image"]]
        good = engine.read_sticker(client, project, refs)
        assert good is not None
        engine.write_sticker(client, project, good.replace(b'"signatures"', b'"signatures_"'), refs)
        import time
        deadline = time.monotonic() + 15
        while api_ctr.reload() or (api_ctr.attrs["State"]["Health"]["Status"] != "unhealthy"
                                   and time.monotonic() < deadline):
            time.sleep(0.5)
        code, kinds = _kinds(site)
        assert code == 1
        assert {"image-digest", "labels", "stopped"} <= kinds["web"], kinds
        assert "unhealthy" in kinds["api"] and "extra" in kinds["rogue"], kinds
        assert kinds["-"] == {"sticker-invalid"}, kinds
        # the working lock file edited; the sticker volume removed; api stopped
        from appliance.deploy.rollout import working_lock
        from appliance.home import Home
        agent = isinstance(site, AgentSite)     # the agent keeps its own copy: no working copy on the appliance
        if not agent:
            path = working_lock(Home(site.home), "dev-1")
            path.write_text(path.read_text().replace("restart: 'no'", "restart: always"))
        engine.remove_sticker(client, project)
        api_ctr.stop(timeout=1)
        for ctr in client.containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"}):
            if ctr.labels.get("com.docker.compose.service") == "web":
                ctr.remove(force=True)
        code, kinds = _kinds(site)
        assert code == 1
        assert kinds["web"] == {"missing"} and "stopped" in kinds["api"], kinds
        assert kinds["-"] == ({"sticker-missing"} if agent else {"sticker-missing", "lock-changed"}), kinds
    finally:
        client.close()
