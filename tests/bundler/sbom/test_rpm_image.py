"""An RPM image end to end: built FROM scratch with an rpmdb made by real rpm, pushed to the
test registry, bundled by ``stella-bundler build``; its SBOM names exactly what rpm lists,
each package in the layer that brought it, and ``stella findings`` matches a Red Hat OSV
advisory to the old openssl with the fixed version."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from appliance.cli import cli as stella_cli
from bundler.cli import cli as bundler_cli
from bundler.oci.layout import OCILayout
from kit.crypto import generate, write_key_dir
from kit.format import KitReader
from tests.bundler.sbom import rpmtools
from tests.bundler.sbom.rpmtools import SPECS, build_rpm, query, sqlite_db
from tests.bundler.test_releases import Capture
from tests.images import Layer, make_image, push
from tests.kit.conftest import make_root
from tests.kit.craft import AT

pytestmark = pytest.mark.services

# /etc/os-release of Red Hat Enterprise Linux 9.4 (ubi9 9.4), as shipped
RHEL_94 = b'''NAME="Red Hat Enterprise Linux"
VERSION="9.4 (Plow)"
ID="rhel"
ID_LIKE="fedora"
VERSION_ID="9.4"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Red Hat Enterprise Linux 9.4 (Plow)"
ANSI_COLOR="0;31"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:redhat:enterprise_linux:9::baseos"
HOME_URL="https://www.redhat.com/"
'''

# Red Hat's OSV shape (security.access.redhat.com/data/osv): RHSA-2024:2447 fixed openssl
# in RHEL 9.4 at 1:3.0.7-27.el9; the image carries 1:3.0.7-24.el9.
RHSA = {
    "schema_version": "1.5.0", "id": "RHSA-2024:2447", "modified": "2024-11-13T00:00:00Z",
    "published": "2024-04-30T10:00:00Z", "summary": "openssl security and bug fix update",
    "aliases": ["CVE-2023-5678", "CVE-2023-6129", "CVE-2023-6237", "CVE-2024-0727"],
    "affected": [{"package": {"ecosystem": "Red Hat:enterprise_linux:9::baseos", "name": "openssl",
                              "purl": "pkg:rpm/redhat/openssl"},
                  "ranges": [{"type": "ECOSYSTEM",
                              "events": [{"introduced": "0"}, {"fixed": "1:3.0.7-27.el9"}]}]},
                 {"package": {"ecosystem": "Red Hat:enterprise_linux:9::baseos", "name": "bash"},
                  "ranges": [{"type": "ECOSYSTEM",
                              "events": [{"introduced": "0"}, {"fixed": "0:5.1.8-6.el9"}]}]}],
    "database_specific": {"severity": "Low"},
}


def test_rpm_image_bundled_and_matched(registry: str, tmp_path: Path) -> None:
    rpmtools.need_rpm()
    rpms = [build_rpm(spec, tmp_path / "rpmbuild") for spec in SPECS]
    dbpath = tmp_path / "rpm"
    base = sqlite_db(dbpath, rpms[:2]).read_bytes()                # openssl, bash
    rpmtools.run("rpm", "--dbpath", str(dbpath), "-i", "--justdb", "--nodeps", "--ignorearch",
                 *map(str, rpms[2:]))                              # tzdata, stella-big: a later layer
    top = (dbpath / "rpmdb.sqlite").read_bytes()
    oracle = query(dbpath)
    assert len(oracle) == len(SPECS)

    layout = OCILayout(tmp_path / "src")
    desc, layers = make_image(layout, [
        Layer({"etc/os-release": RHEL_94, "var/lib/rpm/rpmdb.sqlite": base}),
        Layer({"var/lib/rpm/rpmdb.sqlite": top}, gzip=False)])
    push(registry, tmp_path / "src", desc, "stella-test/rpm:v1")

    site = tmp_path / "site"
    (site / "osv").mkdir(parents=True)
    (site / "osv" / "RHSA-2024_2447.json").write_text(json.dumps(RHSA))
    (site / "kit.yaml").write_text(f"""kit: {{name: rhel, channel: stable, sequence: 1, created: 2026-11-01T00:00:00Z,
      expires: 2027-11-01T00:00:00Z}}
registries:
  {registry}: {{insecure: true}}
platforms: [linux/amd64]
advisories: [osv]
releases:
  - name: rhel
    version: "9.4"
    components:
      app: {registry}/stella-test/rpm:v1
""")
    key = generate()
    write_key_dir(tmp_path / "key", key, force=True)
    kit = tmp_path / "rhel.stella-kit"
    result = CliRunner().invoke(bundler_cli, ["build", str(site / "kit.yaml"), "--key", str(tmp_path / "key"),
                                              "--out", str(kit), "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 0, result.output
    capture = Capture()
    check = KitReader(kit).verify(trust=make_root([key], 1), at=AT, sink=capture)
    assert check.ok
    release = json.loads(capture.data["releases/rhel/9.4.json"])
    sboms = release["components"][0]["manifests"][0]["sboms"]
    cdx = json.loads(capture.data[sboms["cyclonedx"]])

    rpm_components = [c for c in cdx["components"] if c["purl"].startswith("pkg:rpm/")]
    props = [{p["name"]: p["value"] for p in c.get("properties", [])} for c in rpm_components]
    named = sorted(f"{c['name']}|{c['version']}" for c in rpm_components)
    expected = sorted(f"{f[0]}|{'' if f[1] == '(none)' else f[1] + ':'}{f[2]}-{f[3]}"
                      for f in (line.split("|") for line in oracle))
    assert named == expected                                          # exactly what rpm lists
    purls = {c["name"]: c["purl"] for c in rpm_components}
    assert purls["openssl"] == ("pkg:rpm/redhat/openssl@3.0.7-24.el9?arch=x86_64&distro=rhel-9.4&epoch=1"
                                "&upstream=openssl-3.0.7-24.el9.src.rpm")
    by_layer = {c["name"]: p.get("stella:layer") for c, p in zip(rpm_components, props)}
    assert by_layer == {"openssl": layers[0], "bash": layers[0], "tzdata": layers[1], "stella-big": layers[1]}

    sbom_file = tmp_path / "app.cdx.json"
    sbom_file.write_bytes(capture.data[sboms["cyclonedx"]])
    out = CliRunner().invoke(stella_cli, ["findings", "--sbom", str(sbom_file), "--advisories",
                                          str(site / "osv"), "--json"])
    assert out.exit_code == 1, out.output
    report = json.loads(out.stdout)
    (finding,) = report["findings"]                                    # bash 5.1.8-9 is past the fix
    assert finding["advisories"] == ["RHSA-2024:2447"] and finding["id"] == "CVE-2023-5678"
    assert finding["component"]["purl"] == purls["openssl"]
    assert finding["component"]["version"] == "1:3.0.7-24.el9"
    assert finding["fixed"] == ["1:3.0.7-27.el9"]
    assert finding["locations"][0]["layer"] == layers[0]
    assert report["summary"]["components"] == len(SPECS)


def test_corrupt_rpmdb_fails_the_build_in_one_line(registry: str, tmp_path: Path) -> None:
    rpmtools.need_rpm()
    rpms = [build_rpm(spec, tmp_path / "rpmbuild") for spec in SPECS[:2]]
    blobs = rpmtools.header_blobs(sqlite_db(tmp_path / "sq", rpms))
    data = bytearray(rpmtools.bdb_db(tmp_path / "bdb", blobs, pagesize=512).read_bytes())
    overflow = [n for n in range(1, len(data) // 512) if data[n * 512 + 25] == 7
                and int.from_bytes(data[n * 512 + 16:n * 512 + 20], "little")]
    data[overflow[0] * 512 + 16:overflow[0] * 512 + 20] = overflow[0].to_bytes(4, "little")   # a loop
    layout = OCILayout(tmp_path / "src")
    desc, layers = make_image(layout, [Layer({"etc/os-release": RHEL_94, "var/lib/rpm/Packages": bytes(data)})])
    push(registry, tmp_path / "src", desc, "stella-test/rpm-corrupt:v1")
    site = tmp_path / "site"
    site.mkdir()
    (site / "kit.yaml").write_text(f"""kit: {{name: rhel, channel: stable, sequence: 1, created: 2026-11-01T00:00:00Z,
      expires: 2027-11-01T00:00:00Z}}
registries:
  {registry}: {{insecure: true}}
releases:
  - name: rhel
    version: "7"
    components:
      app: {registry}/stella-test/rpm-corrupt:v1
""")
    write_key_dir(tmp_path / "key", generate(), force=True)
    kit = tmp_path / "rhel.stella-kit"
    result = CliRunner().invoke(bundler_cli, ["build", str(site / "kit.yaml"), "--key", str(tmp_path / "key"),
                                              "--out", str(kit), "--cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 3, result.output
    (line,) = result.output.strip().splitlines()
    assert "bad-package-db" in line and "var/lib/rpm/Packages" in line and layers[0] in line
    assert "a loop" in line and "stella-test/rpm-corrupt" in line
    assert not kit.exists()
