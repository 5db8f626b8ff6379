"""A release whose kit carries its vendor's SBOM beside ours: ``stella findings RELEASE``
reads both, one component per purl (docs/sbom.md, "Vendor SBOMs")."""

from __future__ import annotations

import json
from pathlib import Path

from kit.canonical import dumps, loads
from kit.crypto import Signer
from tests.appliance.helpers import stella
from tests.appliance.promotions.conftest import ADVISORIES, SNAPSHOT
from tests.appliance.promotions.kits import release_files, site_kit

VENDOR_PATH = "sboms/vendor/web/3.0.0/web.spdx.json"


def vendor_spdx(image: str) -> bytes:
    """The vendor's SPDX 2.3 SBOM: the image, flask (also in ours) and requests (only here)."""
    def package(ident: str, name: str, version: str, purl: str) -> dict[str, object]:
        return {"SPDXID": ident, "name": name, "versionInfo": version, "downloadLocation": "NOASSERTION",
                "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                                  "referenceLocator": purl}]}
    return json.dumps({
        "spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT", "name": "web",
        "documentNamespace": "https://vendor.example/spdx/web-3.0.0",
        "creationInfo": {"created": "2026-01-01T00:00:00Z", "creators": ["Tool: vendor-scanner"]},
        "documentDescribes": ["SPDXRef-Image"],
        "packages": [package("SPDXRef-Image", "web", "3.0.0", f"pkg:oci/web@{image.replace(':', '%3A')}"),
                     package("SPDXRef-flask", "flask", "3.0.0", "pkg:pypi/flask@3.0.0"),
                     package("SPDXRef-requests", "requests", "2.31.0", "pkg:pypi/requests@2.31.0")],
    }).encode()


def test_findings_read_the_vendor_sbom_with_ours(home: Path, signer: Signer, tmp_path: Path) -> None:
    files = release_files("web", "3.0.0", [("flask", "3.0.0")])
    doc = loads(files["releases/web/3.0.0.json"])
    image = doc["components"][0]["digest"]
    doc["components"][0]["vendorSbom"] = {"path": VENDOR_PATH, "format": "spdx", "specVersion": "SPDX-2.3",
                                          "bound": True}
    files["releases/web/3.0.0.json"] = dumps(doc)
    files[VENDOR_PATH] = vendor_spdx(image)
    kit_path = tmp_path / "site.stella-kit"
    site_kit(kit_path, [signer], sequence=1, advisories=ADVISORIES, snapshot=SNAPSHOT, releases=files)
    assert stella("import", str(kit_path), "--no-seed", home=home).exit_code == 0

    shown = json.loads(stella("release", "show", "web@3.0.0", "--json", home=home).output)
    assert VENDOR_PATH in [s["path"] for s in shown["sboms"]]
    r = stella("findings", "web@3.0.0", "--json", home=home)
    assert r.exit_code == 1, r.output
    report = json.loads(r.output)
    (finding,) = report["findings"]                      # requests 2.31.0: only the vendor lists it
    assert finding["advisories"] == ["PYSEC-2026-1"] and finding["fixed"] == ["2.32.0"]
    assert finding["component"]["purl"] == "pkg:pypi/requests@2.31.0"
    assert report["summary"]["components"] == 2          # flask, listed by both, once


def test_the_policy_input_names_a_vendor_spdx_sbom() -> None:
    from kit.gates.policy import _sboms
    content = vendor_spdx("sha256:" + "a" * 64).decode()
    listed = _sboms({"sboms": {"documents": [{"path": VENDOR_PATH, "sha256": "0" * 64, "content": content}]}})
    assert listed == [{"path": VENDOR_PATH, "sha256": "0" * 64, "format": "spdx", "components": 3}]
