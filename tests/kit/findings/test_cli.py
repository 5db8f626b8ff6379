"""``stella findings`` and ``stella vex explain`` end to end, and determinism."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from appliance.cli import cli
from kit.canonical import loads

from .conftest import IMAGE, cyclonedx, openvex, osv, write

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def scenario(tmp_path: Path) -> dict[str, Path]:
    sbom = write(tmp_path / "image.cdx.json", cyclonedx([
        "pkg:pypi/demo@1.0", "pkg:pypi/other@3.0", "pkg:npm/left-pad@1.3.0",
        "pkg:deb/debian/libssl3@3.0.11-1?distro=debian-12&upstream=openssl"]))
    adv = tmp_path / "osv"
    write(adv / "a.json", osv("PYSEC-1", "demo", events=[{"introduced": "0"}, {"fixed": "1.1"}],
                              aliases=["CVE-2024-1"], severity=[{"type": "CVSS_V3",
                              "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]))
    write(adv / "b.json", osv("GHSA-aaaa", "demo", events=[{"introduced": "0.5"}, {"fixed": "1.0.1"}],
                              aliases=["CVE-2024-1"], database_specific={"severity": "MODERATE"}))
    write(adv / "c.json", osv("PYSEC-2", "other", events=[{"introduced": "0"}, {"last_affected": "3.0"}]))
    write(adv / "d.json", osv("DSA-1", "openssl", ecosystem="Debian:12",
                              events=[{"introduced": "0"}, {"fixed": "3.0.11-2"}]))
    write(adv / "e.json", osv("GHSA-npm", "left-pad", ecosystem="npm", range_type="SEMVER",
                              events=[{"introduced": "0"}, {"fixed": "1.3.0"}]))
    write(adv / "broken.json", {"id": "BROKEN-1", "modified": "x", "affected": "nope"})
    vex = write(tmp_path / "vex" / "v.json", openvex("vex-1", "Vendor", [
        {"vulnerability": {"name": "PYSEC-2"}, "products": [{"@id": IMAGE}],
         "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}]))
    return {"sbom": sbom, "osv": adv, "vex": vex.parent, "tmp": tmp_path}


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def adhoc(s: dict[str, Path], *extra: str) -> list[str]:
    return ["findings", "--sbom", str(s["sbom"]), "--advisories", str(s["osv"]),
            "--vex", str(s["vex"]), *extra]


def test_json_report(scenario: dict[str, Path]) -> None:
    code, out, err = run(*adhoc(scenario, "--json", "--show-suppressed"))
    assert code == 1, err
    report = loads(out.strip())
    assert report["summary"] == {"components": 4, "findings": 2, "suppressed": 1, "skipped": 1}
    by_id = {f["id"]: f for f in report["findings"]}
    cve = by_id["CVE-2024-1"]
    assert cve["advisories"] == ["GHSA-aaaa", "PYSEC-1"]
    assert cve["severity"]["score"] == "9.8" and cve["severity"]["labels"] == ["medium"]
    assert cve["fixed"] == ["1.0.1", "1.1"]
    assert cve["locations"] == [{"image": IMAGE, "layer": "sha256:" + "1" * 64}]
    assert by_id["PYSEC-2"]["vex"]["status"] == "not_affected"
    assert by_id["PYSEC-2"]["vex"]["used"] == ["vex-1#0"]
    assert "DSA-1" in by_id and "GHSA-npm" not in by_id
    assert "BROKEN-1" in err and "affected must be a list" in err


def test_text_sarif_and_exit_codes(scenario: dict[str, Path]) -> None:
    code, out, _ = run(*adhoc(scenario))
    assert code == 1 and out.startswith("2 finding(s), 1 suppressed by VEX")
    assert run(*adhoc(scenario, "--fail-on", "critical"))[0] == 1
    assert run(*adhoc(scenario, "--fail-on", "never"))[0] == 0
    assert run(*adhoc(scenario, "--strict"))[0] == 3
    code, out, _ = run(*adhoc(scenario, "--sarif"))
    sarif = json.loads(out)
    assert sarif["version"] == "2.1.0"
    assert [r["ruleId"] for r in sarif["runs"][0]["results"]] == ["DSA-1", "CVE-2024-1"] or \
        sorted(r["ruleId"] for r in sarif["runs"][0]["results"]) == ["CVE-2024-1", "DSA-1"]


def test_usage_and_io_errors(scenario: dict[str, Path]) -> None:
    code, _, err = run("findings", "web@1.2")
    assert code == 2 and "appliance store" in err
    assert run("findings", "--sbom", str(scenario["sbom"]))[0] == 2
    assert run(*adhoc(scenario, "--json", "--sarif"))[0] == 2
    code, _, err = run("findings", "--sbom", str(scenario["tmp"] / "nope.json"),
                       "--advisories", str(scenario["osv"]))
    assert code == 4 and "nope.json" in err
    bad = write(scenario["tmp"] / "bad.cdx.json", {"hello": 1})
    code, _, err = run("findings", "--sbom", str(bad), "--advisories", str(scenario["osv"]))
    assert code == 3 and "not a CycloneDX JSON document" in err


def test_vex_explain(scenario: dict[str, Path]) -> None:
    code, out, _ = run("vex", "explain", "CVE-2024-9", "--component", "pkg:pypi/other@3.0",
                       "--vex", str(scenario["vex"]), "--image", IMAGE,
                       "--advisories", str(scenario["osv"]))
    assert code == 0 and "no VEX statement applies" in out
    code, out, _ = run("vex", "explain", "PYSEC-2", "--component", "pkg:pypi/other@3.0",
                       "--vex", str(scenario["vex"]), "--image", IMAGE,
                       "--advisories", str(scenario["osv"]))
    assert code == 0
    assert "used       vex-1#0: not_affected by Vendor [tier default]" in out
    assert "effective status: not_affected (suppressed)" in out
    assert "advisories: PYSEC-2 matches (ECOSYSTEM introduced 0, last_affected 3.0)" in out
    code, out, _ = run("vex", "explain", "PYSEC-2", "--component", "pkg:pypi/other@3.0",
                       "--vex", str(scenario["vex"]), "--json")
    assert loads(out.strip())["decision"]["status"] == "none"  # no --image: the image product does not apply


def test_same_bytes_under_other_hash_seeds(scenario: dict[str, Path]) -> None:
    args = adhoc(scenario, "--json", "--show-suppressed")
    outputs = set()
    for seed in ("0", "1", "4242"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        done = subprocess.run([sys.executable, "-c", "from appliance.cli import main; main()", *args],
                              capture_output=True, cwd=ROOT, env=env)
        assert done.returncode == 1, done.stderr
        outputs.add(done.stdout)
    outputs.add(run(*args)[1].encode())
    assert len(outputs) == 1
