"""Dev → stage → prod through the CLI, with gates, approvals, evidence and replay."""

from __future__ import annotations

import json
from pathlib import Path

from tests.appliance.helpers import snapshot, stella
from tests.appliance.promotions.conftest import run


def promote(home: Path, ref: str, env: str, user: str = "alice") -> object:
    return run(home, "promote", ref, "--to", env, "--reason", "release train", user=user)


def test_dev_to_prod(site: Path, tmp_path: Path) -> None:
    r = promote(site, "web@1.0.0", "dev")
    assert r.exit_code == 0, r.output
    assert "P-0001 web@1.0.0 → dev: approved" in r.output
    assert "SKIP previous-environment" in r.output and "PASS policy" in r.output
    r = run(site, "promotion", "mark-deployed", "P-0001", user="dave")
    assert r.exit_code == 0, r.output and "deployed" in r.output
    assert promote(site, "web@1.0.0", "stage").exit_code == 0
    assert run(site, "promotion", "mark-deployed", "P-0002", user="dave").exit_code == 0
    r = promote(site, "web@1.0.0", "prod")
    assert r.exit_code == 0 and "awaiting-approval" in r.output and "0 of 2 approvals" in r.output
    r = run(site, "approve", "P-0003", "--comment", "ok", user="bob")
    assert r.exit_code == 0 and "awaiting-approval" in r.output and "1 of 2" in r.output
    r = run(site, "approve", "P-0003", user="carol")
    assert r.exit_code == 0 and "P-0003 web@1.0.0 → prod: approved" in r.output, r.output
    r = run(site, "promotion", "show", "P-0003", "--json")
    doc = json.loads(r.output)
    assert doc["promotion"]["state"] == "approved"
    assert [h["to"] for h in doc["history"]] == ["requested", "gates-evaluated", "awaiting-approval", "approved"]
    assert {g["name"]: g["verdict"] for g in doc["record"]["gates"]} == {
        "policy": "pass", "freeze": "pass", "previous-environment": "pass", "approvals": "pass"}
    # evidence: export, verify, replay
    packet = tmp_path / "p3.stella-evidence"
    assert run(site, "evidence", "export", "P-0003", "--out", str(packet), user="erin").exit_code == 0
    pub = tmp_path / "appliance.pub.json"
    assert stella("key", "export", "--out", str(pub), home=site).exit_code == 0
    from click.testing import CliRunner

    from verifier.cli import cli as verify
    r = CliRunner().invoke(verify, ["evidence", str(packet), "--appliance-key", str(pub)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(verify, ["replay", str(packet)])
    assert r.exit_code == 0 and "byte-identical" in r.output, r.output
    # deploy to prod; audit chain intact
    assert run(site, "promotion", "mark-deployed", "P-0003", user="dave").exit_code == 0
    assert stella("audit", "verify", home=site).exit_code == 0


def test_policy_blocks_and_names_the_finding(site: Path) -> None:
    before = snapshot(site)
    r = promote(site, "web@2.0.0", "dev")
    assert r.exit_code == 1
    assert "PYSEC-2026-1" in r.output or "CVE-2026-0001" in r.output
    assert "policy" in r.output and "refused" in r.output
    assert snapshot(site) == before


def test_refusals_change_nothing(site: Path) -> None:
    assert promote(site, "web@1.0.0", "dev").exit_code == 0
    assert run(site, "promotion", "mark-deployed", "P-0001", user="dave").exit_code == 0
    cases = [
        (("promote", "web@9.9.9", "--to", "dev", "--reason", "x"), "alice", 2, "unknown release"),
        (("promote", "web@1.0.0", "--to", "prod", "--reason", "x"), "alice", 1, "not deployed in stage"),
        (("promote", "web@1.0.0", "--to", "moon", "--reason", "x"), "alice", 2, "unknown environment"),
        (("promote", "web@1.0.0", "--to", "dev", "--reason", "x"), "bob", 1, "lacks the requester role"),
        (("approve", "P-0001"), "bob", 5, "it is deployed"),
        (("promotion", "mark-deployed", "P-0001"), "dave", 5, "deployed is final"),
        (("reject", "P-0001", "--comment", "no"), "bob", 5, "deployed is final"),
        (("approve", "P-0042"), "bob", 2, "unknown promotion"),
    ]
    for args, user, code, text in cases:
        before = snapshot(site)
        r = run(site, *args, user=user)
        assert r.exit_code == code, (args, r.output)
        assert text in r.output, (args, r.output)
        assert snapshot(site) == before, args


def test_approvals_separation_of_duties(site: Path) -> None:
    for n, env in enumerate(("dev", "stage"), start=1):
        assert promote(site, "web@1.0.0", env).exit_code == 0
        assert run(site, "promotion", "mark-deployed", f"P-000{n}", user="dave").exit_code == 0
    run(site, "user", "add", "alice", "--role", "approver", user="root")     # requester who can approve
    assert promote(site, "web@1.0.0", "prod").exit_code == 0
    before = snapshot(site)
    r = run(site, "approve", "P-0003", user="alice")
    assert r.exit_code == 1 and "separation of duties" in r.output
    assert snapshot(site) == before
    assert run(site, "approve", "P-0003", user="bob").exit_code == 0
    before = snapshot(site)
    r = run(site, "approve", "P-0003", user="bob")
    assert r.exit_code == 1 and "nobody approves twice" in r.output
    assert snapshot(site) == before
    # the deployer approved: with SoD the approval does not count when dave deploys
    assert run(site, "approve", "P-0003", user="dave").exit_code == 0
    before = snapshot(site)
    r = run(site, "promotion", "mark-deployed", "P-0003", user="dave")
    assert r.exit_code == 1 and "deploys this promotion" not in r.output and "1 of 2" in r.output, r.output
    assert snapshot(site) == before
    assert run(site, "approve", "P-0003", user="carol").exit_code == 0    # a third approval, kept
    assert run(site, "promotion", "mark-deployed", "P-0003", user="dave").exit_code == 0
    r = run(site, "promotion", "show", "P-0003", "--json")
    doc = json.loads(r.output)
    assert doc["promotion"]["state"] == "deployed"
    ignored = doc["record"]["gates"][3]["trace"]["ignored"]
    assert {"user": "dave", "why": "dave deploys this promotion (separation of duties)"} in ignored


def test_stop_the_line_and_freeze(site: Path) -> None:
    r = run(site, "env", "stop-the-line", "--reason", "incident 42", user="alice")
    assert r.exit_code == 1 and "admin" in r.output
    assert run(site, "env", "stop-the-line", "--reason", "incident 42", user="root").exit_code == 0
    before = snapshot(site)
    r = promote(site, "web@1.0.0", "dev")
    assert r.exit_code == 1 and "stop-the-line" in r.output and "incident 42" in r.output
    assert snapshot(site) == before
    assert run(site, "env", "resume", user="root").exit_code == 0
    r = run(site, "env", "freeze", "dev", "--rrule", "FREQ=DAILY;BYHOUR=0", "--duration", "24h", "--tz",
            "Europe/Berlin", "--reason", "always frozen", user="root")
    assert r.exit_code == 0, r.output
    before = snapshot(site)
    r = promote(site, "web@1.0.0", "dev")
    assert r.exit_code == 1 and "frozen by F-0001" in r.output and "always frozen" in r.output
    assert snapshot(site) == before
    assert run(site, "env", "unfreeze", "F-0001", user="root").exit_code == 0
    assert promote(site, "web@1.0.0", "dev").exit_code == 0
