"""End to end: a kit built from kit.yaml with a CSAF advisory, CSAF VEX and CycloneDX VEX over a
real image from the test registry, imported, and ``stella findings`` with VEX applied."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bundler.build import build_kit
from bundler.spec import load_spec
from kit.crypto import Signer
from tests.appliance.helpers import stella
from tests.images import Published
from tests.kit.findings.csafdocs import cdx_vex, cdx_vuln, csaf, score, tree_product, vuln, write

pytestmark = pytest.mark.services

BABEL = "pkg:npm/%40babel/core@7.24.0"


def _advisory() -> dict[str, object]:
    products = [tree_product("six", "pkg:pypi/six@1.16.0"), tree_product("lp-fixed", "pkg:npm/left-pad@1.3.1"),
                tree_product("toolbelt", "pkg:pypi/requests-toolbelt@1.0.0"), tree_product("babel", BABEL)]
    return csaf(tracking_id="EXA-2026-0100", products=products, vulnerabilities=[
        vuln("CVE-2026-2001", {"known_affected": ["six"]}, scores=[score(["six"])]),
        vuln("CVE-2026-2002", {"first_fixed": ["lp-fixed"]}),
        vuln("CVE-2026-2003", {"known_affected": ["toolbelt"]}),
        vuln("CVE-2026-2004", {"fixed": ["babel"]})])


def _vendor_vex() -> dict[str, object]:
    products = [tree_product("lp", "pkg:npm/left-pad@1.3.0"),
                tree_product("toolbelt", "pkg:pypi/requests-toolbelt@1.0.0")]
    return csaf("csaf_vex", tracking_id="EXA-VEX-2026-0100", products=products, vulnerabilities=[
        vuln("CVE-2026-2002", {"known_not_affected": ["lp"]},
             flags=[{"label": "vulnerable_code_not_present", "product_ids": ["lp"]}]),
        vuln("CVE-2026-2003", {"under_investigation": ["toolbelt"]})])


# Real published documents carried beside ours: they name products by CPE, name or bom-ref (no purl),
# so they change no finding, but they go through the same build, import and consensus.
REAL_CDX = ("CISA-Use-Cases_Case-1_vex-not_affected.json", "Use-Cases_Case-11_vex.json",
            "Use-Cases_Case-12_vex.json")


def _spec(folder: Path, images: Published, shared_data: Path) -> Path:
    shutil.copytree(shared_data / "csaf" / "examples", folder / "csaf")
    (folder / "cdx-real").mkdir(parents=True)
    for name in REAL_CDX:
        shutil.copy(shared_data / "cyclonedx-vex" / name, folder / "cdx-real" / name)
    write(folder / "csaf" / "exa-2026-0100.json", _advisory())
    write(folder / "vendor-vex" / "exa-vex-2026-0100.json", _vendor_vex())
    write(folder / "site.cdx.json", cdx_vex([cdx_vuln("CVE-2026-2003", "not_affected", ["pkg:pypi/requests-toolbelt"],
                                                      justification="code_not_reachable")]))
    spec = folder / "kit.yaml"
    spec.write_text(f"""kit: {{name: site, channel: stable, sequence: 1, created: 2026-11-25T00:00:00Z,
      expires: 2027-11-01T00:00:00Z}}
registries:
  {images.registry}: {{insecure: true}}
advisories:
  - {{path: csaf, format: csaf}}
vex:
  - {{path: vendor-vex, format: csaf}}
  - {{path: site.cdx.json, format: cyclonedx}}
  - {{path: csaf/csaf_vex, format: csaf}}
  - {{path: cdx-real, format: cyclonedx, issuer: CycloneDX examples}}
releases:
  - name: web
    version: "1.0"
    components:
      app: {images.deb}
""")
    return spec


def test_csaf_and_cyclonedx_sources_reach_stella_findings(images: Published, tmp_path: Path, home: Path,
                                                          signer: Signer, shared_data: Path) -> None:
    kit = build_kit(load_spec(_spec(tmp_path / "spec", images, shared_data)), [signer], tmp_path / "site.stella-kit",
                    cache_dir=tmp_path / "cache")
    paths = {e.path for e in kit.manifest.entries}
    assert {"vex/vendor-vex/exa-vex-2026-0100.openvex.json", "vex/site.cdx.openvex.json",
            "vex-sources/vendor-vex/exa-vex-2026-0100.json", "vex-sources/site.cdx.json",
            "vex/csaf_vex/sec-vex-2022-0001.openvex.json",
            "vex/cdx-real/CISA-Use-Cases_Case-1_vex-not_affected.openvex.json"} <= paths
    assert len([p for p in paths if p.startswith("vex/")]) == 2 + 13 + 3
    result = stella("import", str(kit.path), home=home)
    assert result.exit_code == 0, result.output
    shown = stella("findings", "web@1.0", "--json", "--show-suppressed", home=home)
    assert shown.exit_code == 1, shown.output                   # unsuppressed findings remain
    findings = {f["id"]: f for f in json.loads(shown.output)["findings"]}
    assert set(findings) == {"CVE-2026-2001", "CVE-2026-2002", "CVE-2026-2003"}   # babel 7.24.0 is the fix
    six, left_pad, toolbelt = findings["CVE-2026-2001"], findings["CVE-2026-2002"], findings["CVE-2026-2003"]
    assert (six["component"]["purl"].startswith("pkg:pypi/six@1.16.0"), six["severity"]["score"],
            six["vex"]["status"]) == (True, "9.1", "none")
    assert six["advisories"] == ["EXA-2026-0100/CVE-2026-2001"]
    assert (left_pad["vex"]["status"], left_pad["vex"]["suppressed"]) == ("not_affected", True)
    assert left_pad["vex"]["justification"] == "vulnerable_code_not_present"
    assert left_pad["fixed"] == ["1.3.1"]
    # vendor (CSAF) says under investigation, the site (CycloneDX) not affected: same tier, the cautious one wins
    assert (toolbelt["vex"]["status"], toolbelt["vex"]["conflict"]) == ("under_investigation", True)
    assert {c["issuer"] for c in toolbelt["vex"]["considered"]} == {"Example PSIRT", "Site Team"}
