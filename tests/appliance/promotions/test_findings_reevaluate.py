"""Findings from the DB (advisory index filled at import) and re-evaluation after a newer kit."""

from __future__ import annotations

import json
from pathlib import Path

from kit.crypto import Signer
from tests.appliance.helpers import stella
from tests.appliance.promotions.conftest import ADVISORIES, SNAPSHOT, VEX, run
from tests.appliance.promotions.kits import osv, site_kit


def test_findings_from_the_store(site: Path) -> None:
    r = stella("findings", "web@1.0.0", "--json", "--show-suppressed", home=site)
    assert r.exit_code == 1, r.output             # active findings exist
    doc = json.loads(r.output)
    ids = {f["id"]: f["vex"]["status"] for f in doc["findings"]}
    assert ids == {"PYSEC-2026-2": "none", "PYSEC-2026-3": "not_affected"}     # requests 2.32.3 is fixed
    r = stella("findings", "web@2.0.0", "--json", home=site)
    assert [f["id"] for f in json.loads(r.output)["findings"]] == ["CVE-2026-0001"]
    assert stella("findings", "web@7.0.0", home=site).exit_code == 2
    r = stella("findings", "web", "--env", "dev", home=site)
    assert r.exit_code == 2 and "no version of web is deployed in dev" in r.output
    assert run(site, "promote", "web@1.0.0", "--to", "dev", "--reason", "x", user="alice").exit_code == 0
    assert run(site, "promotion", "mark-deployed", "P-0001", user="dave").exit_code == 0
    r = stella("findings", "web", "--env", "dev", "--json", home=site)
    assert len(json.loads(r.output)["findings"]) == 1


def test_reevaluate_after_newer_advisories(site: Path, tmp_path: Path, signer: Signer) -> None:
    assert run(site, "promote", "web@1.0.0", "--to", "dev", "--reason", "x", user="alice").exit_code == 0
    assert run(site, "promotion", "mark-deployed", "P-0001", user="dave").exit_code == 0
    r = run(site, "reevaluate", user="erin")
    assert r.exit_code == 0 and "1 deployed or pending promotion(s) re-evaluated, 0 changed" in r.output
    newer = [*ADVISORIES, osv("PYSEC-2026-9", "flask", "3.0.1", modified="2026-02-01T00:00:00Z")]
    kit2 = tmp_path / "site-2.stella-kit"
    site_kit(kit2, [signer], sequence=2, advisories=newer, snapshot=SNAPSHOT, vex=VEX)
    assert stella("import", str(kit2), "--no-seed", home=site).exit_code == 0
    r = run(site, "reevaluate", "--json", user="erin")
    doc = json.loads(r.output)
    assert doc["evaluated"] == 1 and len(doc["changes"]) == 1
    change = doc["changes"][0]
    assert change["before"] == "pass" and change["after"] == "fail" and "PYSEC-2026-9" in change["reason"]
    r = stella("status", home=site)
    assert "ATTENTION web@1.0.0 deployed in dev (P-0001) now fails the policy gate" in r.output
    r = stella("audit", "log", home=site)
    assert "gates.reevaluate" in r.output
    # and the next promotion of that release is refused by the policy gate
    r = run(site, "promote", "web@1.0.0", "--to", "stage", "--reason", "x", user="alice")
    assert r.exit_code == 1 and "PYSEC-2026-9" in r.output


def test_a_policy_that_fails_to_evaluate_is_a_refusal(site: Path, tmp_path: Path, signer: Signer) -> None:
    from tests.appliance.helpers import snapshot

    for n, (text, kind) in enumerate((("package stella.gate\ndeny := [\n", "syntax"),
                                      ("package stella.gate\nallow := true\n", "undefined")), start=2):
        kit = tmp_path / f"site-{n}.stella-kit"
        site_kit(kit, [signer], sequence=n, advisories=ADVISORIES, snapshot=SNAPSHOT, vex=VEX,
                 policy={"gate.rego": text.encode()})
        assert stella("import", str(kit), "--no-seed", home=site).exit_code == 0
        before = snapshot(site)
        r = run(site, "promote", "web@1.0.0", "--to", "dev", "--reason", "x", user="alice")
        assert r.exit_code == 1 and f"could not be evaluated ({kind})" in r.output, r.output
        assert snapshot(site) == before
