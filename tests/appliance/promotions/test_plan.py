"""``stella plan KIT``: verified as import would, nothing changed, findings and verdicts that would change."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from kit.crypto import Signer, generate
from kit.format import inspect_kit
from tests.appliance.helpers import kit, snapshot, stella
from tests.appliance.promotions.conftest import ADVISORIES, SNAPSHOT, VEX, run
from tests.appliance.promotions.kits import MEDIA, openvex, osv, records_ndjson, site_kit, sources_json

FLASK = osv("PYSEC-2026-9", "flask", "3.0.1", modified="2026-02-01T00:00:00Z")


def state(home: Path) -> tuple[object, str]:
    """Every table and file of the home, and the database file's own bytes."""
    return snapshot(home), hashlib.sha256((home / "stella.db").read_bytes()).hexdigest()


def deployed_and_pending(site: Path) -> None:
    assert run(site, "promote", "web@1.0.0", "--to", "dev", "--reason", "x", user="alice").exit_code == 0
    assert run(site, "promotion", "mark-deployed", "P-0001", user="dave").exit_code == 0
    r = run(site, "promote", "web@1.0.0", "--to", "stage", "--reason", "x", user="alice")
    assert r.exit_code == 0, r.output


def test_plan_shows_what_new_advisories_would_block_and_changes_nothing(site: Path, tmp_path: Path,
                                                                        signer: Signer) -> None:
    deployed_and_pending(site)
    kit2 = tmp_path / "site-2.stella-kit"
    site_kit(kit2, [signer], sequence=2, advisories=[*ADVISORIES, FLASK], snapshot=SNAPSHOT, vex=VEX)
    before = state(site)
    r = stella("plan", str(kit2), "--json", home=site)
    assert r.exit_code == 1, r.output
    assert state(site) == before
    doc = json.loads(r.output)
    assert doc["status"] == "would-import" and doc["verdictsChange"] is True
    assert doc["diff"]["advisories"]["added"] == ["PYSEC-2026-9"]
    assert {c["check"] for c in doc["checks"]} >= {"signatures", "entries", "freshness", "trust-root"}
    by_id = {p["promotion"]: p for p in doc["promotions"]}
    assert set(by_id) == {"P-0001", "P-0002"}
    for p in by_id.values():
        assert p["verdict"] == {"before": "pass", "after": "fail"}
        assert [(g["gate"], g["before"], g["after"]) for g in p["gates"]] == [("policy", "pass", "fail")]
        assert [(f["id"], f["severity"]) for f in p["findings"]["appear"]] == [("PYSEC-2026-9", "critical")]
        assert p["findings"]["appearBySeverity"] == {"critical": 1} and p["findings"]["disappear"] == []
    text = stella("plan", str(kit2), home=site)
    assert text.exit_code == 1
    assert "P-0001 web@1.0.0 in dev (deployed): pass -> fail" in text.output
    assert "gate policy: pass -> fail" in text.output
    assert "+ PYSEC-2026-9 pkg:pypi/flask@3.0.0 (critical)" in text.output
    assert state(site) == before
    # the plan was right: importing and re-evaluating gives the same verdicts
    assert stella("import", str(kit2), "--no-seed", home=site).exit_code == 0
    changes = json.loads(run(site, "reevaluate", "--json", user="erin").output)["changes"]   # type: ignore[attr-defined]
    assert sorted((c["promotion"], c["before"], c["after"]) for c in changes) == [
        ("P-0001", "pass", "fail"), ("P-0002", "pass", "fail")]


def test_vex_that_suppresses_a_finding_is_shown_and_exit_0_when_no_verdict_changes(
        site: Path, tmp_path: Path, signer: Signer) -> None:
    deployed_and_pending(site)
    vex = openvex([("PYSEC-2026-3", "pkg:pypi/jinja2@3.1.4", "not_affected"),
                   ("PYSEC-2026-2", "pkg:pypi/urllib3@2.0.0", "not_affected")])
    kit2 = tmp_path / "site-2.stella-kit"
    site_kit(kit2, [signer], sequence=2, advisories=ADVISORIES, snapshot=SNAPSHOT, vex=vex)
    before = state(site)
    r = stella("plan", str(kit2), "--json", home=site)
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["verdictsChange"] is False and len(doc["diff"]["vex"]["added"]) == 1
    p = doc["promotions"][0]
    assert [f["id"] for f in p["findings"]["disappear"]] == ["PYSEC-2026-2"] and p["gates"] == []
    assert state(site) == before


def test_a_refused_kit_is_refused_as_import_would_and_nothing_is_kept(site: Path, tmp_path: Path,
                                                                     signer: Signer) -> None:
    before = state(site)
    stale = tmp_path / "stale.stella-kit"
    site_kit(stale, [signer], sequence=1, advisories=[*ADVISORIES, FLASK], snapshot=SNAPSHOT, vex=VEX)
    r = stella("plan", str(stale), home=site)
    assert r.exit_code == 5 and "older-than-active" in r.output and r.output.count("\n") == 1
    foreign = tmp_path / "foreign.stella-kit"
    site_kit(foreign, [generate()], sequence=3, advisories=ADVISORIES, snapshot=SNAPSHOT, vex=VEX)
    r = stella("plan", str(foreign), home=site)
    assert r.exit_code == 1 and "untrusted-key" in r.output and "quarantine" not in r.output
    assert state(site) == before and not any((site / "quarantine").iterdir())


def test_a_delta_plans_on_its_base_and_one_without_its_base_is_refused(site: Path, tmp_path: Path,
                                                                       signer: Signer) -> None:
    deployed_and_pending(site)
    base = inspect_kit(tmp_path / "site-1.stella-kit").manifest       # the kit the site fixture imported
    assert base is not None
    newer = [*ADVISORIES, FLASK]
    changed = {"advisories/records.ndjson": records_ndjson(newer),
               "advisories/sources.json": sources_json(len(newer), SNAPSHOT)}
    delta = kit(tmp_path / "site-2.delta", changed, [signer], sequence=2, media=MEDIA, kind="delta",
                base={"kitId": base.kit_id, "sequence": base.sequence},
                inherited=[e for e in base.entries if e.path not in changed])
    before = state(site)
    r = stella("plan", str(delta.path), "--json", home=site)
    assert r.exit_code == 1, r.output
    doc = json.loads(r.output)
    assert doc["kind"] == "delta" and doc["diff"]["advisories"]["added"] == ["PYSEC-2026-9"]
    assert doc["diff"]["unknown"] == [] and doc["verdictsChange"]
    assert doc["diff"]["releases"] == {"added": [], "removed": [], "changed": []}
    assert state(site) == before
    orphan = kit(tmp_path / "orphan.kit", {"attachments/x.txt": b"x"}, [signer], sequence=3, kind="delta",
                 base={"kitId": "sha256:" + "0" * 64, "sequence": 2})
    r = stella("plan", str(orphan.path), home=site)
    assert r.exit_code == 1 and "base-missing" in r.output and r.output.count("\n") == 1
    assert state(site) == before
