"""Releases in a kit: images pulled by digest from the real test registry, byte-exact, with SBOMs."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from bundler.build import build_kit
from bundler.cli import cli as bundler_cli
from bundler.contenttime import image_time
from bundler.errors import SpecError
from bundler.spec import load_spec
from kit.crypto import generate
from kit.format import Entry, KitReader
from kit.timeutil import format_time
from tests.images import Published
from tests.kit.conftest import make_root
from tests.kit.craft import AT

COMPOSE = """services:
  web:
    image: shop/web
    network_mode: host
  base:
    image: shop/base
    network_mode: none
"""


def write_spec(folder: Path, images: Published, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "compose.yaml").write_text(COMPOSE)
    spec = folder / "kit.yaml"
    spec.write_text(f"""kit: {{name: shop, channel: stable, sequence: 3, created: 2026-11-01T00:00:00Z,
      expires: 2027-11-01T00:00:00Z}}
registries:
  {images.registry}: {{insecure: true}}
platforms: [linux/amd64]
releases:
  - name: shop
    version: "1.4.2"
    compose: compose.yaml
    components:
      web: {images.layered}
      base: {images.deb}
  - name: tools
    version: "0.9"
    components:
      multi: {images.multi}
      shared: {images.shared}
      alpine: {images.alpine}
{extra}""")
    return spec


class Capture:
    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def open(self, entry: Entry):  # type: ignore[no-untyped-def]
        parts: list[bytes] = []
        store = self.data

        class W:
            def write(self, chunk: memoryview) -> None:
                parts.append(bytes(chunk))

            def close(self, verified: bool) -> None:
                assert verified
                store[entry.path] = b"".join(parts)
        return W()


@pytest.fixture(scope="module")
def built(images: Published, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes], Path]:
    work = tmp_path_factory.mktemp("kit")
    key = generate()
    spec = load_spec(write_spec(work / "spec", images))
    kit = build_kit(spec, [key], work / "shop.stella-kit", cache_dir=work / "cache").path
    capture = Capture()
    result = KitReader(kit).verify(trust=make_root([key], 1), at=AT, sink=capture)
    assert result.ok, result.error and result.error.one_line()
    return kit, capture.data, work


def test_release_lists_digests_resolved_from_tags(built, images: Published) -> None:  # type: ignore[no-untyped-def]
    _, data, _ = built
    shop = json.loads(data["releases/shop/1.4.2.json"])
    comps = {c["service"]: c for c in shop["components"]}
    assert comps["base"]["digest"] == images.deb_digest          # what the registry (dockerd's push) said
    assert comps["base"]["tag"] == images.deb.rsplit(":", 1)[1]
    assert comps["base"]["image"] == f"{images.registry}/stella-test/deb"
    assert all(c["digest"].startswith("sha256:") for c in shop["components"])
    assert shop["compose"] == {"path": "releases/shop/1.4.2/compose.yaml"}
    assert data["releases/shop/1.4.2/compose.yaml"].decode() == COMPOSE


def test_blobs_are_byte_exact_and_stored_once(built) -> None:  # type: ignore[no-untyped-def]
    kit, data, _ = built
    blobs = [p for p in data if p.startswith("blobs/sha256/")]
    for path in blobs:
        assert hashlib.sha256(data[path]).hexdigest() == path.rsplit("/", 1)[1]
    paths = [e.path for e in KitReader(kit).verify(trust=None, at=AT, manifest_only=True).manifest.entries]
    assert len(paths) == len(set(paths))
    # `layered` and `shared` share their base layer: one entry for it
    tools = json.loads(data["releases/tools/0.9.json"])
    shop = json.loads(data["releases/shop/1.4.2.json"])
    def layers(comp):  # type: ignore[no-untyped-def]
        manifest = json.loads(data[f"blobs/sha256/{comp['manifests'][0]['digest'].split(':')[1]}"])
        return [layer["digest"] for layer in manifest["layers"]]
    shared = next(c for c in tools["components"] if c["service"] == "shared")
    web = next(c for c in shop["components"] if c["service"] == "web")
    assert layers(shared)[0] == layers(web)[0]


def test_multi_arch_index_keeps_only_the_selected_platform(built, images: Published) -> None:  # type: ignore[no-untyped-def]
    _, data, _ = built
    tools = json.loads(data["releases/tools/0.9.json"])
    multi = next(c for c in tools["components"] if c["service"] == "multi")
    assert multi["sourceDigest"] == images.multi_digest and multi["filtered"] is True
    assert multi["digest"] != images.multi_digest
    index = json.loads(data[f"blobs/sha256/{multi['digest'].split(':')[1]}"])
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json" and index["schemaVersion"] == 2
    assert [m["platform"]["architecture"] for m in index["manifests"]] == ["amd64"]
    layout = json.loads(data["oci/index.json"])
    assert multi["digest"] in {m["digest"] for m in layout["manifests"]}
    for desc in layout["manifests"]:
        assert f"blobs/sha256/{desc['digest'].split(':')[1]}" in data


def test_sboms_per_image_manifest(built) -> None:  # type: ignore[no-untyped-def]
    _, data, _ = built
    shop = json.loads(data["releases/shop/1.4.2.json"])
    base = next(c for c in shop["components"] if c["service"] == "base")
    paths = base["manifests"][0]["sboms"]
    cdx = json.loads(data[paths["cyclonedx"]])
    spdx = json.loads(data[paths["spdx"]])
    assert cdx["bomFormat"] == "CycloneDX" and cdx["specVersion"] == "1.7"
    assert spdx["spdxVersion"] == "SPDX-2.3"
    purls = {c["purl"] for c in cdx["components"]}
    assert any(p.startswith("pkg:deb/debian/") for p in purls)
    # dated by the image's own config (docker import writes the time it ran), else the kit's created
    config = json.loads(data[f"blobs/sha256/{base['manifests'][0]['config'].split(':')[1]}"])
    when = image_time(config.get("created"), datetime(2026, 11, 1, tzinfo=UTC))
    assert cdx["metadata"]["timestamp"] == when.isoformat() and spdx["creationInfo"]["created"] == format_time(when)
    assert shop["created"] >= format_time(when)   # the newest of the release's images


def test_rebuild_is_byte_identical_and_uses_the_caches(built, images: Published) -> None:  # type: ignore[no-untyped-def]
    kit, _, work = built
    key_dir_key = generate()
    spec = load_spec(write_spec(work / "spec", images))
    first = build_kit(spec, [key_dir_key], work / "a.stella-kit", cache_dir=work / "cache")
    again = build_kit(spec, [key_dir_key], work / "b.stella-kit", cache_dir=work / "cache")
    assert first.path.read_bytes() == again.path.read_bytes()
    # a fresh cache gives the same kit too
    third = build_kit(spec, [key_dir_key], work / "c.stella-kit", cache_dir=work / "fresh-cache")
    assert third.path.read_bytes() == first.path.read_bytes()


def test_inspect_shows_releases_and_sboms(built) -> None:  # type: ignore[no-untyped-def]
    kit, _, _ = built
    result = CliRunner().invoke(bundler_cli, ["inspect", str(kit), "--releases", "--sboms", "--no-entries"])
    assert result.exit_code == 0, result.output
    assert "release    shop@1.4.2 (compose template)" in result.output
    assert "web" in result.output and "@sha256:" in result.output
    assert "sbom       sboms/" in result.output and " deb" in result.output


def test_unknown_tag_is_named_and_leaves_no_kit(images: Published, tmp_path: Path) -> None:
    spec_path = write_spec(tmp_path / "spec", images)
    text = spec_path.read_text().replace(images.deb, images.deb.rsplit(":", 1)[0] + ":no-such-tag")
    spec_path.write_text(text)
    result = CliRunner().invoke(bundler_cli, ["build", str(spec_path), "--key", str(_key(tmp_path)),
                                              "--out", str(tmp_path / "x.stella-kit"), "--cache-dir",
                                              str(tmp_path / "cache")])
    assert result.exit_code != 0
    assert "no-such-tag" in result.output and "stella-test/deb" in result.output
    assert not (tmp_path / "x.stella-kit").exists()


def test_unreachable_registry_is_named(images: Published, tmp_path: Path) -> None:
    spec_path = write_spec(tmp_path / "spec", images)
    spec_path.write_text(spec_path.read_text().replace(images.registry, "127.0.0.1:9"))
    result = CliRunner().invoke(bundler_cli, ["build", str(spec_path), "--key", str(_key(tmp_path)),
                                              "--out", str(tmp_path / "x.stella-kit"), "--cache-dir",
                                              str(tmp_path / "cache")])
    assert result.exit_code == 4, result.output
    assert "127.0.0.1:9" in result.output and not (tmp_path / "x.stella-kit").exists()


def _key(tmp: Path) -> Path:
    from kit.crypto import write_key_dir
    write_key_dir(tmp / "key", generate(), force=True)
    return tmp / "key"


@pytest.mark.parametrize("releases,message", [
    ("  - {name: shop, version: 1.0, components: {web: x}}\n", "must be quoted"),
    ("  - {name: Shop, version: '1', components: {web: x}}\n", "name must be lowercase"),
    ("  - {name: shop, version: '1'}\n", "components must map"),
    ("  - {name: shop, version: '1', components: {web: x}, colour: red}\n", "unknown key 'colour'"),
    ("  - {name: shop, version: '1', components: {web: x}}\n  - {name: shop, version: '1', components: {a: y}}\n",
     "listed twice"),
    ("  - {name: shop, version: '1', components: {web: x}, compose: c.yaml}\n", "not a component"),
])
def test_bad_releases_are_refused(tmp_path: Path, releases: str, message: str) -> None:
    (tmp_path / "c.yaml").write_text("services:\n  db: {image: x}\n")
    (tmp_path / "kit.yaml").write_text("kit: {name: s, channel: stable, sequence: 1, created: 2026-01-01, "
                                       "expires: 2027-01-01}\nreleases:\n" + releases)
    with pytest.raises(SpecError, match=message):
        load_spec(tmp_path / "kit.yaml")
    assert shutil  # (imported for fixtures that copy folders)


def test_release_documents_match_their_schema(built) -> None:  # type: ignore[no-untyped-def]
    from kit import schema
    _, data, _ = built
    for path in ("releases/shop/1.4.2.json", "releases/tools/0.9.json"):
        schema.validate("release", json.loads(data[path]), path)
