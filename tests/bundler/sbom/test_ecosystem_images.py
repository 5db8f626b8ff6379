"""Java, Ruby, PHP, Rust and .NET images end to end: each built FROM scratch from real files,
pushed to the test registry and bundled by ``stella-bundler build``; each kit SBOM names
exactly what the ecosystem's oracle lists, each component in the layer that brought it,
and ``stella findings`` matches the GitHub OSV advisory for Apache Commons Text 1.9 with
its fixed version."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from appliance.cli import cli as stella_cli
from bundler.cli import cli as bundler_cli
from bundler.oci.layout import OCILayout
from kit.crypto import generate, write_key_dir
from kit.format import KitReader
from tests.bundler.sbom import ecosystems as eco
from tests.bundler.test_releases import Capture
from tests.images import Layer, make_image, push
from tests.kit.conftest import make_root
from tests.kit.craft import AT

pytestmark = pytest.mark.services
ECOSYSTEMS = ("java", "ruby", "php", "rust", "dotnet")


def _images(work: Path) -> dict[str, tuple[list[Layer], set[tuple[str, str]]]]:
    """Per ecosystem: the image's layers and the oracle's (purl, layer index) pairs."""
    jars = {f"opt/app/lib/{name}": eco.debian_jar(name) for name in eco.JARS}
    java_oracle = {(f"pkg:maven/{g}/{a}@{v}", 0) for name in eco.JARS
                   for g, a, v in eco.pom_oracle(Path("/usr/share/java") / name)}
    fat = eco.spring_boot_jar()
    (work / "shop.jar").write_bytes(fat)
    java_oracle |= {("pkg:maven/com.example/shop@2.4.1", 1), ("pkg:maven/org.apache.commons/commons-text@1.9", 1)}
    java_oracle |= {(f"pkg:maven/{g}/{a}@{v}", 1) for name in eco.JARS[:2]
                    for g, a, v in eco.pom_oracle(Path("/usr/share/java") / name)}

    specs = sorted(Path("/usr/share/rubygems-integration/all/specifications").glob("*.gemspec"))
    if not specs:
        eco.need("ruby-rack's gemspec")
    ruby_oracle = {(f"pkg:gem/{n}@{v}", 0) for n, v, _l in eco.gemspec_oracle(specs)}

    installed, listed = eco.composer_project(work / "php")
    php_oracle = {(f"pkg:composer/{n}@{v}", 0) for n, v in listed}

    crates = eco.dep_v0_oracle(eco.RUST_BINARY, work)
    rust_oracle = {(f"pkg:cargo/{n}@{v}", i) for n, v in crates for i in (0, 1)}

    dotnet_oracle = {(f"pkg:nuget/{n}@{v}", 0) for n, v in eco.deps_json_oracle(eco.DEPS_JSON)}
    return {
        "java": ([Layer(jars), Layer({"app/shop.jar": fat})], java_oracle),
        "ruby": ([Layer({f"usr/share/rubygems-integration/all/specifications/{p.name}": p.read_bytes()
                         for p in specs})], ruby_oracle),
        "php": ([Layer({"srv/app/vendor/composer/installed.json": installed.read_bytes()})], php_oracle),
        "rust": ([Layer({"bin/stella-audited": eco.RUST_BINARY.read_bytes()}),
                  Layer({"src/Cargo.lock": (eco.DATA / "rust" / "Cargo.lock").read_bytes()}, gzip=False)],
                 rust_oracle),
        "dotnet": ([Layer({"app/Python.Runtime.deps.json": eco.DEPS_JSON.read_bytes()})], dotnet_oracle),
    }


@pytest.fixture(scope="module")
def kit(registry: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("eco")
    layout = OCILayout(work / "src")
    images = _images(work)
    layers: dict[str, list[str]] = {}
    for name, (image_layers, _oracle) in images.items():
        desc, layers[name] = make_image(layout, image_layers)
        push(registry, work / "src", desc, f"stella-test/eco-{name}:v1")
    site = work / "site"
    (site / "osv").mkdir(parents=True)
    shutil.copy(eco.ADVISORY, site / "osv")
    components = "\n".join(f"      {n}: {registry}/stella-test/eco-{n}:v1" for n in ECOSYSTEMS)
    (site / "kit.yaml").write_text(f"""kit: {{name: eco, channel: stable, sequence: 1, created: 2026-11-01T00:00:00Z,
      expires: 2027-11-01T00:00:00Z}}
registries:
  {registry}: {{insecure: true}}
platforms: [linux/amd64]
advisories: [osv]
releases:
  - name: eco
    version: "1.0"
    components:
{components}
""")
    key = generate()
    write_key_dir(work / "key", key, force=True)
    out = work / "eco.stella-kit"
    result = CliRunner().invoke(bundler_cli, ["build", str(site / "kit.yaml"), "--key", str(work / "key"),
                                              "--out", str(out), "--cache-dir", str(work / "cache")])
    assert result.exit_code == 0, result.output
    capture = Capture()
    assert KitReader(out).verify(trust=make_root([key], 1), at=AT, sink=capture).ok
    release = json.loads(capture.data["releases/eco/1.0.json"])
    sboms = {c["service"]: capture.data[c["manifests"][0]["sboms"]["cyclonedx"]] for c in release["components"]}
    return {"sboms": sboms, "images": images, "layers": layers, "site": site, "work": work}


@pytest.mark.parametrize("ecosystem", ECOSYSTEMS)
def test_kit_sbom_names_exactly_what_the_oracle_lists(kit: dict[str, Any], ecosystem: str) -> None:
    raw = kit["sboms"][ecosystem]
    assert JsonStrictValidator(SchemaVersion.V1_7).validate_str(raw.decode()) is None
    doc = json.loads(raw)
    layers = kit["layers"][ecosystem]
    found = {(c["purl"], layers.index(p["stella:layer"])) for c in doc["components"]
             for p in [{x["name"]: x["value"] for x in c["properties"]}]}
    _layers, oracle = kit["images"][ecosystem]
    assert found == oracle and oracle


def test_old_commons_text_in_a_fat_jar_is_a_finding_with_its_fixed_version(kit: dict[str, Any]) -> None:
    sbom = kit["work"] / "java.cdx.json"
    sbom.write_bytes(kit["sboms"]["java"])
    out = CliRunner().invoke(stella_cli, ["findings", "--sbom", str(sbom), "--advisories",
                                          str(kit["site"] / "osv"), "--json"])
    assert out.exit_code == 1, out.output
    report = json.loads(out.stdout)
    (finding,) = report["findings"]
    assert finding["id"] == "CVE-2022-42889" and finding["advisories"] == ["GHSA-599f-7c49-w659"]
    assert finding["component"]["purl"] == "pkg:maven/org.apache.commons/commons-text@1.9"
    assert finding["fixed"] == ["1.10.0"]
    assert finding["locations"][0]["layer"] == kit["layers"]["java"][1]


def test_hostile_archives_and_a_huge_deps_json_through_the_cli(registry: str, tmp_path: Path) -> None:
    """``stella-bundler sbom`` on real pushed images: a jar nested 50 deep, a jar with an
    entry that escapes and a garbage .jar are skips named on stderr with file and layer (the
    rest is still listed); a 100 MiB .deps.json is a one-line limit-exceeded error naming
    file and layer, a non-zero exit, and nothing written."""
    layout = OCILayout(tmp_path / "src")
    escape = eco.make_zip({"../../etc/cron.d/evil.jar": eco.commons_text_1_9(),
                           "META-INF/maven/ok/ok/pom.properties": b"groupId=ok\nartifactId=ok\nversion=2\n"})
    desc, [layer] = make_image(layout, [Layer({"app/deep.jar": eco.nested(50), "app/escape.jar": escape,
                                               "app/garbage.jar": b"not a zip" * 100})])
    push(registry, tmp_path / "src", desc, "stella-test/eco-hostile:v1")
    bundler = [sys.executable, "-c", "from bundler.cli import main; main()"]
    out = tmp_path / "hostile.cdx.json"
    run = subprocess.run([*bundler, "sbom", f"{registry}/stella-test/eco-hostile:v1", "--insecure", "--out", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    lines = run.stderr.splitlines()
    prefix = f"image {registry}/stella-test/eco-hostile@{desc.digest} layer {layer}: "
    assert any(line.startswith(prefix + "app/deep.jar!/lib/level2.jar!/") and
               line.endswith(": skipped: archive nested more than 8 deep") for line in lines), run.stderr
    assert prefix + "app/escape.jar!/../../etc/cron.d/evil.jar: skipped: entry name escapes the archive; ignored" \
        in lines
    assert prefix + "app/garbage.jar: skipped: not a zip archive (no end of central directory)" in lines
    purls = {c["purl"] for c in json.loads(out.read_bytes())["components"]}
    assert "pkg:maven/ok/ok@2" in purls and "pkg:maven/org.example/level9@1.0" in purls
    assert "pkg:maven/org.example/level10@1.0" not in purls
    assert not (tmp_path / "etc").exists()

    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=1, mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w|") as tar:
        info = tarfile.TarInfo("app/Huge.deps.json")
        info.size = 100 << 20
        tar.addfile(info, io.BytesIO(b" " * info.size))
    desc, [big] = make_image(layout, [Layer(gzip.decompress(buf.getvalue()))])
    push(registry, tmp_path / "src", desc, "stella-test/eco-huge:v1")
    huge = tmp_path / "huge.cdx.json"
    run = subprocess.run([*bundler, "sbom", f"{registry}/stella-test/eco-huge:v1", "--insecure", "--out", str(huge)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode != 0 and not huge.exists()
    (line,) = [x for x in run.stderr.splitlines() if x.strip()]
    assert line.startswith("stella-bundler: error: limit-exceeded: image ")
    assert line.endswith(f"{big[-40:]}: app/Huge.deps.json is 104857600 bytes, limit 67108864")   # the CLI may
    # shorten the middle of a long line (image and layer digests), never its end
