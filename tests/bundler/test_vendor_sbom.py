"""Vendor SBOMs in a release: detected, validated, bound to the image, carried as is, and
merged with ours in the findings (docs/sbom.md, "Vendor SBOMs")."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component as CdxComponent, ComponentType
from cyclonedx.output.json import JsonV1Dot4, JsonV1Dot5
from packageurl import PackageURL

from appliance.cli import cli as stella_cli
from appliance.releases import sbom_paths
from bundler import vendorsbom
from bundler.cli import cli as bundler_cli
from bundler.errors import SpecError
from bundler.oci.layout import OCILayout
from bundler.sbom import Catalog, Component, ImageSubject, to_cyclonedx, to_spdx
from kit.crypto import generate, write_key_dir
from kit.format import KitReader
from tests.bundler.test_releases import Capture
from tests.images import Layer, alpine_rootfs, make_image, push
from tests.kit.conftest import make_root
from tests.kit.craft import AT

CREATED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
LIBCRYPTO = "pkg:apk/alpine/libcrypto3@3.1.4-r5?arch=x86_64&distro=alpine-3.19.1&upstream=openssl"
LIBCRYPTO_REORDERED = "pkg:apk/alpine/libcrypto3@3.1.4-r5?upstream=openssl&distro=alpine-3.19.1&arch=x86_64"
LOG4J = "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"
OTHER_DIGEST = "sha256:" + "e" * 64


def cyclonedx_vendor(image_purl: str, writer: Any = JsonV1Dot5) -> str:
    """A vendor's CycloneDX SBOM as cyclonedx-python-lib writes it (1.4 or 1.5)."""
    bom = Bom()
    bom.metadata.component = CdxComponent(name="alpine", type=ComponentType.CONTAINER,
                                          purl=PackageURL.from_string(image_purl), bom_ref=image_purl)
    parts = []
    for purl in (LIBCRYPTO, LOG4J):
        parsed = PackageURL.from_string(purl)
        parts.append(CdxComponent(name=parsed.name, version=parsed.version, purl=parsed, bom_ref=purl))
        bom.components.add(parts[-1])
    bom.register_dependency(bom.metadata.component, parts)
    text: str = writer(bom).output_as_string()
    assert f'"purl": "{LIBCRYPTO}"' in text or f'"purl":"{LIBCRYPTO}"' in text
    return text.replace(LIBCRYPTO, LIBCRYPTO_REORDERED)        # qualifiers in another order than ours


def spdx_vendor(digest: str) -> bytes:
    """A vendor's SPDX 2.3 JSON SBOM naming log4j-core."""
    subject = ImageSubject("vendor.example", "shop/web", digest, "1.0")
    return to_spdx(Catalog(subject, (Component(LOG4J, "log4j-core", "2.14.1", "maven", "app/lib/log4j-core.jar",
                                               "sha256:" + "1" * 64),)), CREATED)


def spec(tmp_path: Path, name: str, data: bytes | str, **kw: Any) -> vendorsbom.VendorSBOMSpec:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return vendorsbom.VendorSBOMSpec("web", path, **kw)


# -- detection and validation -------------------------------------------------------------

@pytest.mark.parametrize("writer,version", [(JsonV1Dot4, "1.4"), (JsonV1Dot5, "1.5")])
def test_cyclonedx_from_the_library_is_detected(tmp_path: Path, writer: Any, version: str) -> None:
    doc = cyclonedx_vendor(f"pkg:oci/alpine@{OTHER_DIGEST}", writer)
    loaded = vendorsbom.load(spec(tmp_path, "web.json", doc), "release r@1")
    assert (loaded.format, loaded.version, loaded.data) == ("cyclonedx", version, doc.encode())


@pytest.mark.parametrize("version", ["1.6", "1.7"])
def test_cyclonedx_16_17_and_spdx_23_are_detected(tmp_path: Path, version: str) -> None:
    subject = ImageSubject("vendor.example", "shop/web", OTHER_DIGEST, "1.0")
    catalog = Catalog(subject, (Component(LOG4J, "log4j-core", "2.14.1", "maven", "x.jar", "sha256:" + "1" * 64),))
    loaded = vendorsbom.load(spec(tmp_path, "a.json", to_cyclonedx(catalog, CREATED, version)), "r")
    assert (loaded.format, loaded.version) == ("cyclonedx", version)
    loaded = vendorsbom.load(spec(tmp_path, "b.json", spdx_vendor(OTHER_DIGEST)), "r")
    assert (loaded.format, loaded.version) == ("spdx", "SPDX-2.3")
    assert vendorsbom.binds(loaded, [OTHER_DIGEST]) and not vendorsbom.binds(loaded, ["sha256:" + "f" * 64])


@pytest.mark.parametrize("content,says", [
    ("{not json", "not JSON"),
    ('{"bomFormat": "CycloneDX", "specVersion": "1.3", "version": 1}', "CycloneDX 1.3 (supported: 1.4, 1.5"),
    ('{"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, "components": "x"}',
     "not valid CycloneDX 1.6: 'x' is not of type 'array'"),
    ('{"spdxVersion": "SPDX-2.1", "SPDXID": "SPDXRef-DOCUMENT"}', "SPDX-2.1 (supported: SPDX-2.2, SPDX-2.3"),
    ('{"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT"}', "not valid SPDX-2.3"),
    ('{"hello": "world"}', "neither CycloneDX JSON"),
])
def test_bad_vendor_sboms_are_one_line_errors(tmp_path: Path, content: str, says: str) -> None:
    with pytest.raises(SpecError) as caught:
        vendorsbom.load(spec(tmp_path, "web.json", content), "release shop@1")
    line = caught.value.one_line()
    assert says in line and "\n" not in line and "release shop@1: component web: vendor SBOM" in line
    assert str(tmp_path / "web.json") in line


def test_too_big_is_refused_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vendorsbom, "MAX_BYTES", 100)
    with pytest.raises(SpecError, match="101 bytes, limit 100"):
        vendorsbom.load(spec(tmp_path, "web.json", "x" * 101), "r")


def test_component_forms(tmp_path: Path) -> None:
    (tmp_path / "v.json").write_text("{}")
    assert vendorsbom.parse_component("web", "reg/img:1", tmp_path, "at") == ("reg/img:1", None)
    ref, got = vendorsbom.parse_component("web", {"image": "reg/img:1", "sbom": "v.json"}, tmp_path, "at")
    assert ref == "reg/img:1" and got == vendorsbom.VendorSBOMSpec("web", tmp_path / "v.json")
    for value, says in [({"image": "i", "sbom": "v.json", "allowUnbound": True}, "needs a reason"),
                        ({"image": "i", "sbom": "nope.json"}, "is not a file"),
                        ({"image": "i", "sbom": "v.json", "color": "red"}, "unknown key 'color'"),
                        ({"sbom": "v.json"}, "needs an image reference"), (3, "must be an image reference")]:
        with pytest.raises(SpecError, match=says):
            vendorsbom.parse_component("web", value, tmp_path, "at")


# -- end to end: built, carried, bound, merged in the findings ------------------------------

MAVEN_OSV = {"id": "GHSA-jfh8-c2jp-5v3q", "modified": "2024-01-01T00:00:00Z", "aliases": ["CVE-2021-44228"],
             "summary": "Remote code injection in Log4j",
             "affected": [{"package": {"ecosystem": "Maven", "name": "org.apache.logging.log4j:log4j-core"},
                           "ranges": [{"type": "ECOSYSTEM",
                                       "events": [{"introduced": "2.0-beta9"}, {"fixed": "2.15.0"}]}]}]}
ALPINE_OSV = {"id": "ALPINE-CVE-2024-0727", "modified": "2024-02-01T00:00:00Z",
              "affected": [{"package": {"ecosystem": "Alpine:v3.19", "name": "openssl"},
                            "ranges": [{"type": "ECOSYSTEM",
                                        "events": [{"introduced": "0"}, {"fixed": "3.1.4-r6"}]}]}]}


@pytest.fixture(scope="module")
def pushed(registry: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    work = tmp_path_factory.mktemp("vendor-image")
    desc, _ = make_image(OCILayout(work / "src"), [Layer(alpine_rootfs())])
    push(registry, work / "src", desc, "stella-test/vendor:v1")
    return f"{registry}/stella-test/vendor:v1", desc.digest


def _site(tmp_path: Path, registry: str, ref: str, sbom: bytes | str, extra: str = "") -> Path:
    site = tmp_path / "site"
    (site / "osv").mkdir(parents=True, exist_ok=True)
    (site / "vendor").mkdir(exist_ok=True)
    (site / "osv" / "log4j.json").write_text(json.dumps(MAVEN_OSV))
    (site / "osv" / "alpine.json").write_text(json.dumps(ALPINE_OSV))
    (site / "vendor" / "web.cdx.json").write_bytes(sbom.encode() if isinstance(sbom, str) else sbom)
    (site / "kit.yaml").write_text(f"""kit: {{name: shop, channel: stable, sequence: 1, created: 2026-11-01T00:00:00Z,
      expires: 2027-11-01T00:00:00Z}}
registries:
  {registry}: {{insecure: true}}
advisories: [osv]
releases:
  - name: shop
    version: "1.0"
    components:
      web: {{image: {ref}, sbom: vendor/web.cdx.json{extra}}}
""")
    return site


def _build(site: Path, tmp_path: Path) -> tuple[int, str, dict[str, bytes]]:
    key = generate()
    write_key_dir(tmp_path / "key", key, force=True)
    kit = tmp_path / "shop.stella-kit"
    result = CliRunner().invoke(bundler_cli, ["build", str(site / "kit.yaml"), "--key", str(tmp_path / "key"),
                                              "--out", str(kit), "--cache-dir", str(tmp_path / "cache")])
    if result.exit_code:
        return result.exit_code, result.output, {}
    capture = Capture()
    assert KitReader(kit).verify(trust=make_root([key], 1), at=AT, sink=capture).ok
    return 0, result.output, capture.data


@pytest.mark.services
def test_vendor_sbom_carried_and_merged_in_findings(pushed: tuple[str, str], registry: str, tmp_path: Path) -> None:
    ref, digest = pushed
    image = f"pkg:oci/vendor@{digest.replace(':', '%3A')}?repository_url={registry}/stella-test/vendor"
    vendor = cyclonedx_vendor(image)
    code, output, data = _build(_site(tmp_path, registry, ref, vendor), tmp_path)
    assert code == 0, output
    doc = json.loads(data["releases/shop/1.0.json"])
    (comp,) = doc["components"]
    assert comp["vendorSbom"] == {"path": "sboms/vendor/shop/1.0/web.cdx.json", "format": "cyclonedx",
                                  "specVersion": "1.5", "bound": True}
    assert data["sboms/vendor/shop/1.0/web.cdx.json"] == vendor.encode()          # carried as is
    ours = comp["manifests"][0]["sboms"]["cyclonedx"]
    assert sorted(sbom_paths(doc)) == sorted([ours, "sboms/vendor/shop/1.0/web.cdx.json"])

    files = []
    for path in sbom_paths(doc):
        files.append(tmp_path / path.replace("/", "_"))
        files[-1].write_bytes(data[path])
    args = ["findings", *[a for f in files for a in ("--sbom", str(f))], "--advisories",
            str(tmp_path / "site" / "osv"), "--json"]
    out = CliRunner().invoke(stella_cli, args)
    assert out.exit_code == 1, out.output
    report = json.loads(out.stdout)
    by_id = {f["advisories"][0]: f for f in report["findings"]}
    assert sorted(by_id) == ["ALPINE-CVE-2024-0727", "GHSA-jfh8-c2jp-5v3q"]
    assert by_id["GHSA-jfh8-c2jp-5v3q"]["fixed"] == ["2.15.0"]                     # only the vendor saw it
    assert by_id["ALPINE-CVE-2024-0727"]["fixed"] == ["3.1.4-r6"]                   # once, though both list it
    assert len(by_id["ALPINE-CVE-2024-0727"]["locations"]) == 2                     # both SBOMs' locations kept
    assert report["summary"]["components"] == 4                                     # 3 apk (ours) + log4j


@pytest.mark.services
def test_unbound_vendor_sbom_refused_unless_allowed_with_reason(pushed: tuple[str, str], registry: str,
                                                                tmp_path: Path) -> None:
    ref, digest = pushed
    other = cyclonedx_vendor(f"pkg:oci/vendor@{OTHER_DIGEST.replace(':', '%3A')}")
    code, output, _ = _build(_site(tmp_path, registry, ref, other), tmp_path)
    assert code != 0 and "bad-spec" in output and "does not name the image's digest" in output
    assert "vendor/web.cdx.json" in output and digest in output and len(output.strip().splitlines()) == 1
    assert not (tmp_path / "shop.stella-kit").exists()

    reason = "vendor publishes SBOMs per version, not per digest"
    code, output, data = _build(_site(tmp_path, registry, ref, spdx_vendor(OTHER_DIGEST),
                                      f', allowUnbound: true, reason: "{reason}"'), tmp_path)
    assert code == 0, output
    comp = json.loads(data["releases/shop/1.0.json"])["components"][0]
    assert comp["vendorSbom"]["bound"] is False and comp["vendorSbom"]["format"] == "spdx"
    statement = json.loads(base64.b64decode(json.loads(data["provenance/build.intoto.dsse.json"])["payload"]))
    params = statement["predicate"]["buildDefinition"]["externalParameters"]
    assert params["unboundSboms"] == [{"release": "shop@1.0", "service": "web",
                                       "path": "sboms/vendor/shop/1.0/web.spdx.json", "reason": reason}]
    uris = [d["uri"] for d in statement["predicate"]["buildDefinition"]["resolvedDependencies"]]
    assert "file:vendor/web.cdx.json" in uris


def test_spdx_vendor_components_are_read_for_the_findings() -> None:
    from kit.findings.sbom import components_from_document
    doc = json.loads(spdx_vendor(OTHER_DIGEST))
    found, problems = components_from_document(doc, "vendor.spdx.json")
    assert problems == []
    (log4j,) = found
    assert (log4j.purl, log4j.purl_type, log4j.name, log4j.version) == (
        LOG4J, "maven", "org.apache.logging.log4j:log4j-core", "2.14.1")
    assert log4j.locations[0].image == (f"pkg:oci/web@{OTHER_DIGEST}?repository_url=vendor.example/shop/web"
                                        "&tag=1.0")                # the package the document describes


def test_stella_findings_reads_an_spdx_sbom(tmp_path: Path) -> None:
    (tmp_path / "vendor.spdx.json").write_bytes(spdx_vendor(OTHER_DIGEST))
    (tmp_path / "osv").mkdir()
    (tmp_path / "osv" / "log4j.json").write_text(json.dumps(MAVEN_OSV))
    out = CliRunner().invoke(stella_cli, ["findings", "--sbom", str(tmp_path / "vendor.spdx.json"), "--advisories",
                                          str(tmp_path / "osv"), "--json"])
    assert out.exit_code == 1, out.output
    (finding,) = json.loads(out.stdout)["findings"]
    assert finding["component"]["purl"] == LOG4J and finding["fixed"] == ["2.15.0"]
