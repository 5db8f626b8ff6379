"""Pulling real images from the test registry into an OCI layout."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import docker
import pytest

from bundler.oci import (
    OCILayout,
    Platform,
    Puller,
    Registries,
    RegistryClient,
    mediatypes as mt,
    parse_reference,
    pull_images,
    push_ref,
)
from tests.images import Published

pytestmark = pytest.mark.services


def _sha(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def test_tag_resolves_to_pushed_digest_and_blobs_are_byte_exact(
        images: Published, registries: Registries, layout_dir: Path) -> None:
    [img] = pull_images([images.deb], layout_dir, registries=registries)
    assert img.digest == images.deb_digest and img.layout.digest == images.deb_digest
    assert img.media_type == mt.DOCKER_MANIFEST and not img.filtered
    [man] = img.manifests
    assert man.platform == Platform("linux", "amd64")
    blob_dir = layout_dir / "blobs" / "sha256"
    assert sorted(f"sha256:{p.name}" for p in blob_dir.iterdir()) == list(img.blobs)
    for digest in img.blobs:
        assert _sha(blob_dir / digest.split(":")[1]) == digest
    raw = json.loads((blob_dir / img.digest.split(":")[1]).read_bytes())
    assert [layer["digest"] for layer in raw["layers"]] == [d.digest for d in man.layers]
    assert json.loads((layout_dir / "oci-layout").read_text()) == {"imageLayoutVersion": "1.0.0"}
    [entry] = json.loads((layout_dir / "index.json").read_text())["manifests"]
    assert entry["digest"] == img.digest
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == images.deb
    assert not [p for p in blob_dir.iterdir() if p.name.startswith(".partial")]


def test_pinned_digest_pull(images: Published, registries: Registries, layout_dir: Path) -> None:
    ref = images.deb.rsplit(":", 1)[0] + "@" + images.deb_digest
    [img] = pull_images([ref], layout_dir, registries=registries)
    assert img.digest == images.deb_digest and img.tag is None


def test_shared_blobs_are_fetched_once(images: Published, registries: Registries,
                                       layout_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fetched: list[str] = []
    original = RegistryClient.open_blob

    def counting(self: RegistryClient, ref, digest):  # type: ignore[no-untyped-def]
        fetched.append(digest)
        return original(self, ref, digest)

    monkeypatch.setattr(RegistryClient, "open_blob", counting)
    first, second = pull_images([images.layered, images.shared], layout_dir, registries=registries)
    base = first.manifests[0].layers[0].digest
    assert second.manifests[0].layers[0].digest == base
    assert fetched.count(base) == 1 and len(fetched) == len(set(fetched))
    fetched.clear()
    pull_images([images.layered], layout_dir, registries=registries)  # a rebuild: all present
    assert fetched == []


def test_platform_selection_writes_a_valid_filtered_index(
        images: Published, registries: Registries, layout_dir: Path, registry: str) -> None:
    [img] = pull_images([images.multi], layout_dir, registries=registries)
    assert img.digest == images.multi_digest and img.filtered
    assert img.layout.digest != img.digest and img.platforms == (Platform("linux", "amd64"),)
    raw = (layout_dir / "blobs" / "sha256" / img.layout.digest.split(":")[1]).read_bytes()
    assert "sha256:" + hashlib.sha256(raw).hexdigest() == img.layout.digest
    index = json.loads(raw)
    assert index["schemaVersion"] == 2 and index["mediaType"] == mt.OCI_INDEX
    assert [m["platform"]["architecture"] for m in index["manifests"]] == ["amd64"]
    assert index["annotations"] == {"org.opencontainers.image.title": "stella test"}
    # The filtered index round-trips through a registry and Docker pulls it by digest.
    with RegistryClient(registries) as client:
        pushed = push_ref(client, layout_dir, images.multi, f"{registry}/stella-test/filtered:v1")
    assert pushed == img.layout.digest
    engine = docker.from_env()
    try:
        pulled = engine.images.pull(f"{registry}/stella-test/filtered@{pushed}")
        assert f"{registry}/stella-test/filtered@{pushed}" in pulled.attrs["RepoDigests"]
    finally:
        engine.close()


def test_all_platforms_keep_the_original_index(images: Published, registries: Registries,
                                               layout_dir: Path) -> None:
    both = [Platform("linux", "amd64"), Platform("linux", "arm64")]
    [img] = pull_images([images.multi], layout_dir, registries=registries, platforms=both)
    assert not img.filtered and img.layout.digest == images.multi_digest
    assert [str(p) for p in img.platforms] == ["linux/amd64", "linux/arm64/v8"]


def test_push_then_pull_is_byte_identical(images: Published, registries: Registries,
                                          tmp_path: Path, registry: str) -> None:
    [img] = pull_images([images.layered], tmp_path / "a", registries=registries)
    with RegistryClient(registries) as client:
        push_ref(client, tmp_path / "a", images.layered, f"{registry}/stella-test/copy:v1")
        again = Puller(client, OCILayout(tmp_path / "b")).pull(
            parse_reference(f"{registry}/stella-test/copy:v1"))
    assert again.digest == img.digest and again.blobs == img.blobs
