"""``stella workflow validate | set | show`` against a real appliance home (SQLite, audit log)."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from appliance import workflows
from appliance.cli import cli
from appliance.store.db import open_db
from appliance.users import ROLES
from kit.workflow.default import default_template
from kit.workflow.steps import approval
from tests.appliance.helpers import snapshot, stella

CANARY = b"""\
# prod: a canary on one host, then the rest
schema: stella/workflow/v1
name: prod-canary
steps:
  - id: gates
    uses: gate
  - id: approval
    uses: approval
    needs: [gates]
    with: {role: approver, count: 2}
  - id: smoke
    uses: health
    needs: [approval]
    with: {probe: http, port: 8080, path: /healthz, deadline: 2m}
  - id: deploy
    uses: deploy
    needs: [approval]
    with: {strategy: canary, canary: 1, soak: 15m, health: {probe: tcp, port: 8080}}
  - id: undo
    uses: rollback
    needs: [deploy]
    if: failure()
"""

BAD = b"""\
schema: stella/workflow/v1
name: prod
steps:
  - id: gates
    uses: gate
  - id: deploy
    uses: deploy
    needs: [gates, gates2]
    with: {strategy: all-at-once, window: 2}
  - id: loop
    uses: wait
    needs: [loop]
    with: {duration: 1m}
"""
BAD_PROBLEMS = [
    "steps[1].needs[1]: unknown step 'gates2'",
    "steps[1].with.window: window is a setting of strategy rolling, not of all-at-once",
    "steps[2].needs: cycle: loop needs loop",
]


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture()
def site(home: Path) -> Path:
    for name, roles, by in (("root", ["admin"], []), ("alice", ["requester", "approver"], ["--as", "root"])):
        result = stella("user", "add", name, *[x for r in roles for x in ("--role", r)], *by, home=home)
        assert result.exit_code == 0, result.output
    assert stella("env", "create", "prod", "--order", "1", "--as", "root", home=home).exit_code == 0
    return home


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_validate_accepts_a_good_template_and_names_every_problem_of_a_bad_one(tmp_path: Path) -> None:
    good = write(tmp_path, "prod.workflow.yaml", CANARY)
    result = invoke("workflow", "validate", str(good))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"{good}: valid workflow prod-canary (5 steps) sha256:")
    bad = write(tmp_path, "bad.yaml", BAD)
    result = invoke("workflow", "validate", str(bad))
    assert result.exit_code == 3
    assert result.stdout.splitlines() == [f"{bad}: {p}" for p in BAD_PROBLEMS]
    assert result.stderr == (f"stella workflow validate: error: invalid-workflow: {bad}: {BAD_PROBLEMS[0]} "
                             "(and 2 more)\n")
    as_json = invoke("workflow", "validate", str(bad), "--json")
    assert as_json.exit_code == 3
    doc = json.loads(as_json.stdout)
    assert doc["valid"] is False and [f"{p['path']}: {p['message']}" for p in doc["problems"]] == BAD_PROBLEMS
    ok = json.loads(invoke("workflow", "validate", str(good), "--json").stdout)
    assert ok["valid"] is True and ok["problems"] == [] and ok["name"] == "prod-canary"


@pytest.mark.parametrize(("data", "line"), [
    (b"", "(file)"),                                       # empty: None is not an object
    (b"\x00\x01binary", "(file): not valid YAML"),
    (b"a: [" * 20000, "(file): not valid YAML: line 1 column 65: nested deeper than 32"),
    (b"- &a [1]\n- *a\n", "(file): not valid YAML: line 2 column 3: aliases (*name) are not allowed"),
])
def test_validate_hostile_files(tmp_path: Path, data: bytes, line: str) -> None:
    path = write(tmp_path, "hostile.yaml", data)
    result = invoke("workflow", "validate", str(path))
    assert result.exit_code == 3
    assert len(result.stdout.splitlines()) >= 1 and result.stderr.count("\n") == 1
    if line != "(file)":
        assert f"{path}: {line}" in result.stdout
    else:
        assert result.stdout.startswith(f"{path}: (top): None is not of type 'object'")


def test_a_missing_file_is_a_usage_error_and_a_large_one_is_not_read(tmp_path: Path) -> None:
    assert invoke("workflow", "validate", str(tmp_path / "nope.yaml")).exit_code == 2
    big = write(tmp_path, "big.yaml", b"a: [" * 70000)
    result = invoke("workflow", "validate", str(big))
    assert result.exit_code == 3 and result.stdout == ""
    assert result.stderr.startswith("stella workflow validate: error: limit-exceeded: workflow template ")
    assert "280000 bytes is over the limit of 262144 bytes" in result.stderr


def test_show_gives_the_default_until_one_is_set(site: Path) -> None:
    result = stella("workflow", "show", "prod", "--json", home=site)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["origin"] == "default" and doc["digest"] == default_template().digest
    assert [s["uses"] for s in doc["template"]["steps"]] == ["gate", "approval", "deploy"]
    human = stella("workflow", "show", "prod", home=site)
    assert human.stdout.splitlines()[:2] == [f"# environment prod: workflow default {default_template().digest}",
                                             "# origin: default (none set)"]


def test_set_is_for_admins_audited_stored_by_digest_and_runs_keep_their_version(site: Path, tmp_path: Path) -> None:
    path = write(tmp_path, "prod.workflow.yaml", CANARY)
    before = snapshot(site)
    refused = stella("workflow", "set", "prod", str(path), "--as", "alice", home=site)
    assert refused.exit_code == 1 and "alice lacks the admin role" in refused.stderr
    assert snapshot(site) == before

    result = stella("workflow", "set", "prod", str(path), "--as", "root", home=site)
    assert result.exit_code == 0, result.output
    shown = json.loads(stella("workflow", "show", "prod", "--json", home=site).stdout)
    assert (shown["origin"], shown["originRef"], shown["setBy"], shown["name"]) == (
        "admin", str(path), "root", "prod-canary")
    first = shown["digest"]
    assert result.stdout.startswith(f"prod runs workflow prod-canary {first} (set by root at ")

    conn = sqlite3.connect(site / "stella.db")
    events = conn.execute("SELECT actor, action, details FROM audit_events WHERE action = 'workflow.set'").fetchall()
    assert [(a, act) for a, act, _ in events] == [("root", "workflow.set")]
    assert json.loads(events[0][2])["digest"] == first
    assert json.loads(events[0][2])["previous"] == default_template().digest
    source = conn.execute("SELECT source FROM environment_workflows").fetchone()[0]
    assert source == CANARY                                       # the comments kept

    again = snapshot(site)                                        # the same template again: nothing changes
    assert stella("workflow", "set", "prod", str(path), "--as", "root", home=site).exit_code == 0
    assert snapshot(site) == again

    path.write_bytes(CANARY.replace(b"canary: 1", b"canary: 2"))  # edited: a new version
    assert stella("workflow", "set", "prod", str(path), "--as", "root", home=site).exit_code == 0
    second = json.loads(stella("workflow", "show", "prod", "--json", home=site).stdout)["digest"]
    assert second != first
    stored = dict(conn.execute("SELECT digest, document FROM workflow_templates").fetchall())
    assert set(stored) == {first, second}                         # the first stays, for runs that use it
    db = open_db(site / "stella.db")
    assert workflows.by_digest(db, first).step("deploy").settings["canary"] == 1
    assert workflows.by_digest(db, second).step("deploy").settings["canary"] == 2


def test_set_refuses_a_bad_template_naming_every_problem_and_changes_nothing(site: Path, tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", BAD)
    before = snapshot(site)
    result = stella("workflow", "set", "prod", str(path), "--as", "root", home=site)
    assert result.exit_code == 3
    assert result.stderr.splitlines() == [*(f"{path}: {p}" for p in BAD_PROBLEMS),
                                          f"stella workflow set: error: invalid-workflow: {path}: {BAD_PROBLEMS[0]} "
                                          "(and 2 more)"]
    assert snapshot(site) == before


def test_an_unknown_environment(site: Path, tmp_path: Path) -> None:
    path = write(tmp_path, "prod.workflow.yaml", CANARY)
    for args in (("workflow", "show", "qa"), ("workflow", "set", "qa", str(path), "--as", "root")):
        result = stella(*args, home=site)
        assert result.exit_code == 2 and "unknown environment 'qa'" in result.stderr


def test_a_template_from_a_kit_shows_its_origin_and_a_fifo_is_not_read(site: Path, tmp_path: Path) -> None:
    template = default_template()
    db = open_db(site / "stella.db")
    workflows.assign(db, "prod", template, origin="kit", ref="site-0007", source=None, actor="import")
    shown = json.loads(stella("workflow", "show", "prod", "--json", home=site).stdout)
    assert (shown["origin"], shown["originRef"], shown["setBy"], shown["digest"]) == (
        "kit", "site-0007", "import", template.digest)
    human = stella("workflow", "show", "prod", home=site).stdout.splitlines()[1]
    assert human.startswith("# origin: kit site-0007, set by import at ")

    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    before = snapshot(site)
    result = invoke("workflow", "validate", str(fifo))      # a blocking open would hang here
    assert result.exit_code == 3 and result.stdout == ""
    assert result.stderr == (f"stella workflow validate: error: special-file: workflow template {fifo} is a FIFO, "
                             "not a regular file (not read)\n")
    result = stella("workflow", "set", "prod", str(fifo), "--as", "root", home=site)
    assert result.exit_code == 3 and "special-file" in result.stderr
    assert snapshot(site) == before


def test_an_approval_names_a_role_the_appliance_has() -> None:
    assert approval.ROLES == ROLES
