"""Registry failures end in one clear error naming the image (real registry, real sockets)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from bundler.oci import Limits, Platform, Registries, RegistryConfig, pull_images
from bundler.oci.errors import (
    DigestMismatchError,
    LimitExceededError,
    NotFoundError,
    PlatformError,
    RegistryUnreachableError,
    UnsupportedMediaTypeError,
)
from bundler.oci.layout import OCILayout
from tests.images import Layer, make_image, push

pytestmark = pytest.mark.services


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unknown_tag_and_repo(images, registries: Registries, layout_dir: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(NotFoundError, match=r"stella-test/deb:nope.*tag 'nope' not found"):
        pull_images([images.deb.rsplit(":", 1)[0] + ":nope"], layout_dir, registries=registries)
    with pytest.raises(NotFoundError, match="no-such-repo"):
        pull_images([f"{images.registry}/no-such-repo:v1"], layout_dir, registries=registries)


def test_unreachable_registry(layout_dir: Path) -> None:
    host = f"127.0.0.1:{_closed_port()}"
    regs = Registries({host: RegistryConfig(host, insecure=True)})
    with pytest.raises(RegistryUnreachableError, match=f"image {host}/x:1: registry {host} unreachable"):
        pull_images([f"{host}/x:1"], layout_dir, registries=regs)


def test_platform_not_in_index(images, registries: Registries, layout_dir: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PlatformError, match=r"no manifest for linux/s390x.*linux/amd64"):
        pull_images([images.multi], layout_dir, registries=registries,
                    platforms=[Platform("linux", "s390x")])


def test_limits(images, registries: Registries, layout_dir: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(LimitExceededError, match="layer sha256:.*declares .* bytes, limit 1000"):
        pull_images([images.deb], layout_dir, registries=registries,
                    limits=Limits(max_blob_bytes=1000))
    with pytest.raises(LimitExceededError, match="manifest"):
        pull_images([images.deb], layout_dir, registries=registries,
                    limits=Limits(max_manifest_bytes=100))


def _unique_image(tmp_path: Path, registry: str, repo: str, zstd: bool = False) -> tuple[str, str, str]:
    """Push an image with a never-seen layer; returns (ref, manifest digest, layer digest)."""
    layout = OCILayout(tmp_path / "src")
    desc, [layer] = make_image(layout, [Layer({"etc/nonce": os.urandom(32)})])
    if zstd:  # relabel the layer: the media type alone must be refused
        raw = layout.read_blob(desc.digest).replace(b"tar+gzip", b"tar+zstd")
        import hashlib
        digest = "sha256:" + hashlib.sha256(raw).hexdigest()
        layout.write_bytes(digest, raw, what="test")
        from bundler.oci.layout import Descriptor
        desc = Descriptor(desc.media_type, digest, len(raw))
    push(registry, tmp_path / "src", desc, f"{repo}:v1")
    return f"{registry}/{repo}:v1", desc.digest, layer


def _storage_blob(digest: str) -> Path:
    root = Path(os.environ.get("STELLA_SERVICES_DIR", "/tmp/stella-test-services"))
    hexd = digest.split(":")[1]
    path = root / "registry-data" / "docker" / "registry" / "v2" / "blobs" / "sha256" / hexd[:2] / hexd / "data"
    if not path.is_file():
        pytest.skip(f"registry storage not found at {path}")
    return path


def test_corrupted_layer_in_registry(registry: str, registries: Registries, tmp_path: Path) -> None:
    ref, _, layer = _unique_image(tmp_path, registry, "stella-test/corrupt-layer")
    blob = _storage_blob(layer)
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0xFF
    blob.write_bytes(bytes(data))
    with pytest.raises(DigestMismatchError, match=f"image {ref}: blob bytes hash to .*expected {layer}"):
        pull_images([ref], tmp_path / "out", registries=registries)
    assert not (tmp_path / "out" / "blobs" / "sha256" / layer.split(":")[1]).exists()
    assert not list((tmp_path / "out" / "blobs" / "sha256").glob(".partial*"))


def test_corrupted_manifest_in_registry(registry: str, registries: Registries, tmp_path: Path) -> None:
    ref, digest, _ = _unique_image(tmp_path, registry, "stella-test/corrupt-manifest")
    blob = _storage_blob(digest)
    blob.write_bytes(blob.read_bytes().replace(b'"schemaVersion": 2', b'"schemaVersion":  2'))
    with pytest.raises(DigestMismatchError, match=f"image {ref}: manifest bytes hash to"):
        pull_images([ref], tmp_path / "out", registries=registries)


def test_zstd_layer_refused(registry: str, registries: Registries, tmp_path: Path) -> None:
    ref, _, layer = _unique_image(tmp_path, registry, "stella-test/zstd", zstd=True)
    with pytest.raises(UnsupportedMediaTypeError, match=f"layer {layer} is zstd-compressed"):
        pull_images([ref], tmp_path / "out", registries=registries)
