"""Workflow templates carried by a signed kit: assigned on import, in the import's transaction."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from kit.crypto import Signer
from kit.workflow.carried import MEDIA_TYPE
from kit.workflow.load import load
from tests.appliance.helpers import delta_of, files_v1, kit, snapshot, stella, stella_proc
from tests.appliance.workflows.test_workflow_cli import BAD, CANARY

ROOT = Path(__file__).resolve().parents[3]
STAGE = (ROOT / "examples" / "workflows" / "stage-rolling.workflow.yaml").read_bytes()
MEDIA = {"workflows": MEDIA_TYPE}


@pytest.fixture()
def site(home: Path) -> Path:
    for args in (("user", "add", "root", "--role", "admin"),
                 ("env", "create", "prod", "--order", "1", "--as", "root")):
        result = stella(*args, home=home)
        assert result.exit_code == 0, result.output
    return home


def with_templates(**templates: bytes) -> dict[str, bytes]:
    return {**files_v1(), **{f"workflows/{env}.workflow.yaml": data for env, data in templates.items()}}


def show(home: Path, env: str) -> dict[str, Any]:
    result = stella("workflow", "show", env, "--json", home=home)
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.output)
    return doc


def events(home: Path, action: str) -> list[dict[str, Any]]:
    conn = sqlite3.connect(home / "stella.db")
    try:
        rows = conn.execute("SELECT details FROM audit_events WHERE action = ? ORDER BY seq", [action]).fetchall()
    finally:
        conn.close()
    return [json.loads(r[0]) for r in rows]


def test_a_kit_assigns_its_templates_and_skips_an_unknown_environment(
        tmp_path: Path, site: Path, signer: Signer) -> None:
    k = kit(tmp_path / "v1.stella-kit", with_templates(prod=CANARY, stage=STAGE), [signer], media=MEDIA)
    result = stella("import", str(k.path), "--json", home=site)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    canary = load(CANARY, "c")
    assert [(w["environment"], w["status"], w["digest"]) for w in out["workflows"]] == [
        ("prod", "assigned", canary.digest), ("stage", "skipped", load(STAGE, "s").digest)]
    assert out["workflows"][1]["warning"] == ("workflows/stage.workflow.yaml: this appliance has no environment "
                                              "'stage'; template not assigned")
    shown = show(site, "prod")
    assert (shown["origin"], shown["originRef"], shown["digest"], shown["name"]) == \
        ("kit", k.manifest.kit_id, canary.digest, "prod-canary")
    human = stella("workflow", "show", "prod", home=site).output
    assert "kit" in human and k.manifest.kit_id in human
    # the kit's own bytes are what is kept as the template's source (comments included)
    conn = sqlite3.connect(site / "stella.db")
    assert conn.execute("SELECT source FROM environment_workflows").fetchone()[0] == CANARY
    conn.close()
    (imported,) = events(site, "kit.import")
    assert [(w["environment"], w["status"]) for w in imported["workflows"]] == [("prod", "assigned"),
                                                                                 ("stage", "skipped")]
    (assigned,) = events(site, "workflow.set")
    assert assigned["origin"] == "kit" and assigned["ref"] == k.manifest.kit_id
    assert stella("audit", "verify", home=site).exit_code == 0


def test_human_output_names_each_template_and_warns_of_a_skipped_one(
        tmp_path: Path, site: Path, signer: Signer) -> None:
    k = kit(tmp_path / "v1.stella-kit", with_templates(prod=CANARY, stage=STAGE), [signer], media=MEDIA)
    result = stella("import", str(k.path), "--no-seed", home=site)
    assert result.exit_code == 0, result.output
    assert f"workflow prod: prod-canary {load(CANARY, 'c').digest} assigned" in result.stdout
    assert "warning: workflow workflows/stage.workflow.yaml: this appliance has no environment 'stage'" \
        in result.stderr


@pytest.mark.parametrize(("path", "data", "message"), [
    ("workflows/prod.workflow.yaml", BAD,
     "invalid-workflow: kit entry workflows/prod.workflow.yaml: steps[1].needs[1]: unknown step 'gates2' "
     "(and 2 more)"),
    ("workflows/prod.yaml", CANARY,
     "invalid-workflow: kit entry workflows/prod.yaml: not workflows/<environment>.workflow.yaml"),
    ("workflows/prod.workflow.yaml", b"- &a [1]\n- *a\n",
     "invalid-workflow: kit entry workflows/prod.workflow.yaml: (file): not valid YAML: line 2 column 3: "
     "aliases (*name) are not allowed"),
    ("workflows/prod.workflow.yaml", b"a: [" * 70000,
     "invalid-workflow: kit entry workflows/prod.workflow.yaml: (file): larger than 256 KiB"),
])
def test_a_signed_kit_with_a_bad_template_is_refused_and_changes_nothing(
        tmp_path: Path, site: Path, signer: Signer, path: str, data: bytes, message: str) -> None:
    k = kit(tmp_path / "bad.stella-kit", {**files_v1(), path: data}, [signer], media=MEDIA)
    before = snapshot(site)
    result = stella("import", str(k.path), home=site)
    assert result.exit_code == 3, result.output
    assert message in result.stderr
    assert snapshot(site) == before
    assert show(site, "prod")["origin"] == "default"


def test_the_same_template_again_changes_nothing_and_a_delta_reasserts_an_inherited_one(
        tmp_path: Path, site: Path, signer: Signer) -> None:
    k1 = kit(tmp_path / "v1.stella-kit", with_templates(prod=CANARY), [signer], media=MEDIA)
    assert stella("import", str(k1.path), home=site).exit_code == 0
    k2 = kit(tmp_path / "v2.stella-kit", {**with_templates(prod=CANARY), "attachments/x.txt": b"x"}, [signer],
             sequence=2, media=MEDIA)
    out = json.loads(stella("import", str(k2.path), "--json", home=site).stdout)
    assert [(w["status"], w["kitId"]) for w in out["workflows"]] == [("unchanged", k1.manifest.kit_id)]
    assert show(site, "prod")["originRef"] == k1.manifest.kit_id
    # an admin replaces it; a delta whose template is inherited from its base puts the kit's back
    admin = tmp_path / "admin.yaml"
    admin.write_bytes(STAGE)
    assert stella("workflow", "set", "prod", str(admin), "--as", "root", home=site).exit_code == 0
    k3 = delta_of(tmp_path / "v3.delta", k2, {**with_templates(prod=CANARY), "attachments/y.txt": b"y"}, [signer],
                  sequence=3)
    assert "workflows/prod.workflow.yaml" in {e.path for e in k3.manifest.inherited}
    out = json.loads(stella("import", str(k3.path), "--json", home=site).stdout)
    assert [w["status"] for w in out["workflows"]] == ["assigned"]
    shown = show(site, "prod")
    assert (shown["origin"], shown["originRef"], shown["name"]) == ("kit", k3.manifest.kit_id, "prod-canary")
    assert len(events(site, "workflow.set")) == 3


def test_a_kit_without_templates_reports_none(tmp_path: Path, site: Path, signer: Signer) -> None:
    k = kit(tmp_path / "v1.stella-kit", files_v1(), [signer])
    out = json.loads(stella("import", str(k.path), "--json", home=site).stdout)
    assert out["workflows"] == [] and "workflows" not in events(site, "kit.import")[0]
    assert show(site, "prod")["origin"] == "default"


def test_plan_and_dry_run_say_what_a_kit_would_do_to_templates_and_change_nothing(
        tmp_path: Path, site: Path, signer: Signer) -> None:
    k = kit(tmp_path / "v1.stella-kit", with_templates(prod=CANARY, stage=STAGE), [signer], media=MEDIA)
    before = snapshot(site)
    planned = json.loads(stella("plan", str(k.path), "--json", home=site).stdout)
    assert [(w["environment"], w["status"]) for w in planned["workflows"]] == [("prod", "assigned"),
                                                                                ("stage", "skipped")]
    text = stella("plan", str(k.path), home=site).stdout
    assert f"workflow prod: prod-canary {load(CANARY, 'c').digest} would be assigned" in text
    assert "workflow workflows/stage.workflow.yaml: this appliance has no environment 'stage'" in text
    assert stella("import", str(k.path), "--dry-run", home=site).exit_code == 0
    bad = kit(tmp_path / "bad.stella-kit", with_templates(prod=BAD), [signer], media=MEDIA)
    refused = stella("import", str(bad.path), "--dry-run", home=site)
    assert refused.exit_code == 3 and "invalid-workflow: kit entry workflows/prod.workflow.yaml" in refused.stderr
    assert stella("plan", str(bad.path), home=site).exit_code == 3
    assert snapshot(site) == before


@pytest.mark.parametrize("point", ["in-transaction", "committed"])
def test_kill_9_inside_or_after_the_import_transaction_keeps_kit_and_templates_together(
        tmp_path: Path, site: Path, signer: Signer, point: str) -> None:
    k = kit(tmp_path / "v1.stella-kit", with_templates(prod=CANARY), [signer], media=MEDIA)
    proc = stella_proc("import", str(k.path), home=site, env={"STELLA_TEST_PAUSE_AT": point})
    assert proc.stderr is not None and proc.stdout is not None
    try:
        line = proc.stderr.readline()
        assert line.strip() == f"stella-test-pause: {point}", line
        # inside the open transaction the template is already written, but not visible
        assert show(site, "prod")["origin"] == ("default" if point == "in-transaction" else "kit")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
        proc.stdout.close()
    committed = point == "committed"
    assert stella("status", home=site).exit_code == 0              # any command recovers
    conn = sqlite3.connect(site / "stella.db")
    kits = conn.execute("SELECT count(*) FROM kits").fetchone()[0]
    assigned = conn.execute("SELECT count(*) FROM environment_workflows").fetchone()[0]
    conn.close()
    assert (kits, assigned) == ((1, 1) if committed else (0, 0))
    result = stella("import", str(k.path), home=site)
    assert result.exit_code == 0, result.output
    shown = show(site, "prod")
    assert (shown["origin"], shown["originRef"]) == ("kit", k.manifest.kit_id)
    assert len(events(site, "workflow.set")) == 1
    assert stella("audit", "verify", home=site).exit_code == 0
