"""One bad record never hides the others, and an SBOM that is not one is refused
(issue 17, principles 3 and 4).

Before the bounds in ``kit.findings.versions``, a component version of 5,000 digits made
``stella findings`` die with ``internal`` (exit 4) in 8 of the 9 ecosystems (Python's
integer digit limit); now that component, or the advisory carrying such a version, is
skipped and reported, and every other finding is still there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from appliance.cli import cli
from bundler.sources.advisories import advisory_entries
from bundler.spec import load_spec
from kit.findings.versions import MAX_VERSION_LENGTH, MAX_VERSION_PARTS, scheme_for

from .conftest import IMAGE, cyclonedx, osv, write

BIG = "1" * 5000
MAVEN_PARTS = ".".join(["1"] * 1000)

# purl type -> (purl of package NAME at VERSION, OSV ecosystem, OSV name of NAME, range type, good, fixed)
ECOSYSTEMS: dict[str, tuple[str, str, str, str, str, str]] = {
    "pypi": ("pkg:pypi/{n}@{v}", "PyPI", "{n}", "ECOSYSTEM", "1.0", "2.0"),
    "npm": ("pkg:npm/{n}@{v}", "npm", "{n}", "SEMVER", "1.0.0", "2.0.0"),
    "cargo": ("pkg:cargo/{n}@{v}", "crates.io", "{n}", "SEMVER", "1.0.0", "2.0.0"),
    "deb": ("pkg:deb/debian/{n}@{v}?distro=debian-12", "Debian:12", "{n}", "ECOSYSTEM", "1.0-1", "2.0-1"),
    "apk": ("pkg:apk/alpine/{n}@{v}?distro=3.19", "Alpine:v3.19", "{n}", "ECOSYSTEM", "1.0-r0", "2.0-r0"),
    "rpm": ("pkg:rpm/opensuse/{n}@{v}", "openSUSE", "{n}", "ECOSYSTEM", "1.0-1", "2.0-1"),
    "maven": ("pkg:maven/org.demo/{n}@{v}", "Maven", "org.demo:{n}", "ECOSYSTEM", "1.0", "2.0"),
    "golang": ("pkg:golang/example.com/{n}@{v}", "Go", "example.com/{n}", "SEMVER", "v1.0.0", "v2.0.0"),
    "gem": ("pkg:gem/{n}@{v}", "RubyGems", "{n}", "ECOSYSTEM", "1.0", "2.0"),
}


def _scenario(tmp: Path, kind: str, hostile: str) -> tuple[Path, Path]:
    purl, eco, name, rtype, good, fixed = ECOSYSTEMS[kind]
    sbom = write(tmp / "sbom.cdx.json", cyclonedx([
        purl.format(n="good", v=good), purl.format(n="hostile", v=hostile), purl.format(n="third", v=good)]))
    adv = tmp / "osv"
    for ident, pkg, fix in (("GOOD-1", "good", fixed), ("HOSTILE-1", "hostile", fixed),
                            ("BADADV-1", "third", hostile), ("THIRD-1", "third", fixed)):
        write(adv / f"{ident}.json", osv(ident, name.format(n=pkg), ecosystem=eco, range_type=rtype,
                                         events=[{"introduced": "0"}, {"fixed": fix}]))
    return sbom, adv


@pytest.mark.parametrize("hostile", [BIG, MAVEN_PARTS], ids=["5000-digits", "1000-parts"])
@pytest.mark.parametrize("kind", sorted(ECOSYSTEMS))
def test_a_huge_version_is_skipped_and_reported_never_fatal(kind: str, hostile: str, tmp_path: Path) -> None:
    sbom, adv = _scenario(tmp_path, kind, hostile)
    result = CliRunner().invoke(cli, ["findings", "--sbom", str(sbom), "--advisories", str(adv), "--json"])
    assert result.exit_code == 1, (result.output, result.exception)
    report = json.loads(result.stdout)
    assert sorted(f["id"] for f in report["findings"]) == ["GOOD-1", "THIRD-1"]
    skipped = report["skipped"]
    assert any("BADADV-1" in s["record"] for s in skipped), skipped       # the advisory, named
    assert any("pkg:" in s["file"] and "/hostile@" in s["file"] for s in skipped), skipped  # the component
    assert all(("characters" in s["message"] or "parts" in s["message"]) for s in skipped), skipped
    # the text form cuts the 5,000-character name: every line stays readable
    text = CliRunner().invoke(cli, ["findings", "--sbom", str(sbom), "--advisories", str(adv)])
    assert text.exit_code == 1 and max(len(line) for line in text.stderr.splitlines()) <= 700


def test_every_scheme_has_the_same_bounds() -> None:
    at_limit = "1." * (MAX_VERSION_PARTS - 1) + "1"
    for kind in ECOSYSTEMS:
        parse = scheme_for(kind).parse
        for text in ("9" * (MAX_VERSION_LENGTH + 1), "1." * MAX_VERSION_PARTS + "1"):
            with pytest.raises(ValueError, match="a version may have"):
                parse(text)
        try:                                 # at the bounds: the ecosystem's own rules decide
            parse(at_limit)
        except ValueError as exc:
            assert "a version may have" not in str(exc)


def test_the_bundler_refuses_such_an_advisory_naming_file_and_field(tmp_path: Path) -> None:
    write(tmp_path / "osv" / "good.json", osv("PYSEC-1", "demo", events=[{"introduced": "0"}, {"fixed": "2"}]))
    write(tmp_path / "osv" / "bad.json", osv("PYSEC-2", "demo", events=[{"introduced": "0"}, {"fixed": BIG}]))
    write(tmp_path / "osv" / "parts.json", osv("PYSEC-3", "demo", versions=["1.0", MAVEN_PARTS]))
    (tmp_path / "kit.yaml").write_text(
        "kit: {name: k, channel: stable, sequence: 1, created: '2026-01-01T00:00:00Z',\n"
        "      expires: '2099-01-01T00:00:00Z'}\nadvisories:\n  - path: osv\n", encoding="utf-8")
    entries, report = advisory_entries(load_spec(tmp_path / "kit.yaml").advisories)
    assert report.records == 1 and b"PYSEC-2" not in (entries[0].data or b"")   # never signed into the kit
    skipped = {(p.file, p.record): p.message for p in report.skipped}
    assert "fixed" in skipped[("osv/bad.json", "PYSEC-2")] and "5000 characters" in skipped[("osv/bad.json", "PYSEC-2")]
    assert "versions[1]" in skipped[("osv/parts.json", "PYSEC-3")]


# --- principle 3: an input that is not what it claims is refused, never read as empty -------

def _bom(**fields: Any) -> dict[str, Any]:
    return {"bomFormat": "CycloneDX", "specVersion": "1.6", **fields}


@pytest.mark.parametrize(("doc", "why"), [
    (_bom(), "no components list"),
    (_bom(metadata={"component": {"name": "web", "bom-ref": "web"}},
          dependencies=[{"ref": "web", "dependsOn": ["x"]}]), "no components list"),
    (_bom(components={"a": 1}), "not a list"),
    (_bom(components="pkg:pypi/demo@1.0"), "not a list"),
    (_bom(components=[1, 2]), "components[0] is not an object"),
    ({"spdxVersion": "SPDX-2.3"}, "packages list"),
    ({"spdxVersion": "SPDX-2.3", "packages": {"a": 1}}, "packages list"),
], ids=["bare", "deps-but-none", "object", "string", "numbers", "spdx-bare", "spdx-object"])
def test_an_sbom_without_a_usable_list_is_refused(doc: dict[str, Any], why: str, tmp_path: Path) -> None:
    sbom = write(tmp_path / "x.cdx.json", doc)
    adv = write(tmp_path / "osv" / "a.json", osv("PYSEC-1", "demo", events=[{"introduced": "0"}, {"fixed": "2"}]))
    result = CliRunner().invoke(cli, ["findings", "--sbom", str(sbom), "--advisories", str(adv.parent)])
    assert result.exit_code == 3, result.output
    assert why in result.stderr and "x.cdx.json" in result.stderr


def test_an_empty_subject_is_told_apart(tmp_path: Path) -> None:
    """What stella-bundler writes for an empty image (subject named, no dependsOn, no list) is empty, not refused."""
    sbom = write(tmp_path / "x.cdx.json", _bom(metadata={"component": {"name": "web", "bom-ref": IMAGE,
                                                                       "purl": IMAGE}},
                                              dependencies=[{"ref": IMAGE}]))
    adv = write(tmp_path / "osv" / "a.json", osv("PYSEC-1", "demo", events=[{"introduced": "0"}, {"fixed": "2"}]))
    result = CliRunner().invoke(cli, ["findings", "--sbom", str(sbom), "--advisories", str(adv.parent)])
    assert result.exit_code == 0 and "0 component(s)" in result.stdout


def test_the_bundler_refuses_a_vendor_cyclonedx_sbom_without_components(tmp_path: Path) -> None:
    """A vendor SBOM saying CycloneDX with no components list would enter the kit as "0 components"."""
    from bundler import vendorsbom
    from bundler.errors import SpecError
    path = write(tmp_path / "vendor.cdx.json", _bom(version=1))
    with pytest.raises(SpecError, match="vendor.cdx.json: a CycloneDX document with no components list"):
        vendorsbom.load(vendorsbom.VendorSBOMSpec("web", path), "kit.yaml")


def test_the_bundler_refuses_a_csaf_advisory_with_such_a_version(tmp_path: Path) -> None:
    """A CSAF source fails the build as a whole on any problem (docs/advisories.md): named by file and id."""
    from bundler.errors import SpecError
    from tests.kit.findings.csafdocs import demo_advisory
    doc = json.loads(json.dumps(demo_advisory()).replace("pkg:pypi/demo@1.2", f"pkg:pypi/demo@{BIG}"))
    write(tmp_path / "vendor" / "exa.json", doc)
    (tmp_path / "kit.yaml").write_text(
        "kit: {name: k, channel: stable, sequence: 1, created: '2026-01-01T00:00:00Z',\n"
        "      expires: '2099-01-01T00:00:00Z'}\nadvisories:\n  - {path: vendor, format: csaf}\n", encoding="utf-8")
    with pytest.raises(SpecError, match=r"vendor/exa.json: .*CVE-2026-1001.*5000 characters"):
        advisory_entries(load_spec(tmp_path / "kit.yaml").advisories)
