"""Auto-deploy on approval: the real engine, a deploy identity, separation of duties."""

from __future__ import annotations

import json

from tests.appliance.deploy.conftest import Site
from tests.appliance.deploy.site import Rel, free_port, web


def _promotion(site: Site, pid: str) -> dict[str, object]:
    return dict(json.loads(site.run("promotion", "show", pid, "--json").stdout)["promotion"])


def _auto_env(site: Site) -> None:
    """qa: one approval, separation of duties, auto-deploy as dave (deployer and approver)."""
    r = site.run("env", "create", "qa", "--order", "0", "--requires-approvals", "1", "--separation-of-duties",
                 user="root")
    assert r.exit_code == 0, r.output
    assert site.run("user", "add", "bob", "--role", "approver", user="root").exit_code == 0
    r = site.run("target", "settings", "qa", "--auto-deploy", user="root")
    assert r.exit_code == 1 and "--deploy-as" in r.output, r.output
    r = site.run("target", "settings", "qa", "--auto-deploy", "--deploy-as", "alice", user="root")
    assert r.exit_code == 1 and "alice lacks the deployer role" in r.output, r.output
    r = site.run("target", "settings", "qa", "--health-timeout", "20", "--auto-deploy", "--deploy-as", "dave",
                 "--json", user="root")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == {"environment": "qa", "healthTimeout": 20, "autoDeploy": True, "deployAs": "dave"}


def test_approval_deploys_at_once_and_a_failed_one_rolls_back(site: Site) -> None:
    port = free_port()
    site.import_([Rel("shop", "1.0.0", {"web": web(port)}, {"web": "shop web 1"}),
                  Rel("shop", "2.0.0", {"web": web(port)}, {"web": "shop web 2"}),
                  Rel("shop", "3.0.0", {"web": web(port, health_port=free_port())}, {"web": "shop web 3"})])
    _auto_env(site)
    site.target("qa-1", "qa")

    # dave approves: he is the deploy identity, so separation of duties refuses the deploy
    p1 = site.promote("shop@1.0.0", "qa")
    r = site.run("approve", p1, user="dave")
    assert r.exit_code == 0, r.output
    assert "auto-deploy not started" in r.stderr and "dave approved" in r.stderr \
        and "separation of duties" in r.stderr and f"stella deploy {p1}" in r.stderr, r.output
    assert _promotion(site, p1)["state"] == "approved"
    assert json.loads(site.run("whereis", "--json").stdout) == []

    # bob approves: deployed at once as dave
    p2 = site.promote("shop@2.0.0", "qa")                  # supersedes p1
    r = site.run("approve", p2, user="bob")
    assert r.exit_code == 0, r.output
    assert "auto-deploy: D-0001 started as dave" in r.stdout and "auto-deploy: D-0001 deployed" in r.stdout, r.output
    assert _promotion(site, p2)["state"] == "deployed"
    where = json.loads(site.run("whereis", "--json").stdout)
    assert [(w["target"], w["release"]) for w in where] == [("qa-1", "shop@2.0.0")]
    assert site.run("drift", "qa").exit_code == 0

    # a release whose healthcheck fails: approve still exits 0, the deploy fails and rolls back
    p3 = site.promote("shop@3.0.0", "qa")
    r = site.run("approve", p3, "--json", user="bob")
    assert r.exit_code == 0, r.output
    auto = json.loads(r.stdout)["autoDeploy"]
    assert auto["started"] and auto["deployAs"] == "dave" and auto["refused"] is None
    dep = auto["deployment"]
    assert dep["state"] == "failed" and dep["evidence"]["type"] == "rollback"
    assert dep["targets"][0]["rollback"]["action"] == "reapplied"
    assert _promotion(site, p3)["state"] == "failed"
    assert json.loads(site.run("whereis", "--json").stdout)[0]["release"] == "shop@2.0.0"
    assert site.run("drift", "qa").exit_code == 0


def test_no_auto_deploy_when_off(site: Site) -> None:
    r = site.run("env", "create", "qa", "--order", "0", "--requires-approvals", "1", user="root")
    assert r.exit_code == 0, r.output
    site.import_([Rel("shop", "1.0.0", {"web": web(free_port())}, {"web": "shop web 1"})])
    site.target("qa-1", "qa")
    p1 = site.promote("shop@1.0.0", "qa")
    r = site.run("approve", p1, "--json", user="dave")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["autoDeploy"] is None
    assert _promotion(site, p1)["state"] == "approved"
