"""Seeding the appliance's own docker-registry; docker pull by digest keeps the digest."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from appliance.deploy.engine import ensure_images
from appliance.deploy.errors import DeployError
from appliance.home import Home
from appliance.registry import config as registry_config
from appliance.registry.seed import Seeder
from appliance.registry.serve import start
from appliance.store.blobs import BlobStore
from bundler.oci.layout import OCILayout
from kit.crypto import Signer
from kit.registryhost import plain_http_by_default
from tests.appliance.helpers import files_v1, kit, stella
from tests.images import Layer, debian_rootfs, make_image

pytestmark = pytest.mark.skipif(not shutil.which("docker-registry"), reason="docker-registry is not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def served(tmp_path: Path, trust_file: Path) -> Iterator[tuple[Path, str]]:
    """An appliance home whose own registry runs on a free loopback port."""
    home = tmp_path / "home"
    addr = f"127.0.0.1:{_free_port()}"
    assert stella("init", "--trust", str(trust_file), "--registry-addr", addr, home=home).exit_code == 0
    proc: subprocess.Popen[bytes] = start(Home(home), registry_config.load(Home(home)))
    try:
        yield home, addr
    finally:
        proc.terminate()
        proc.wait(10)


def _image_kit(tmp_path: Path, signer: Signer) -> tuple[Path, str, list[str]]:
    layout_dir = tmp_path / "layout"
    layout = OCILayout(layout_dir)
    desc, layers = make_image(layout, [Layer(debian_rootfs()), Layer({"etc/motd": b"stella\n"}, gzip=False)])
    index = {"schemaVersion": 2, "manifests": [{**desc.to_dict(), "annotations": {
        "org.opencontainers.image.ref.name": "registry.example/apps/web:1.0"}}]}
    files = {**files_v1(), "oci/index.json": json.dumps(index).encode()}
    media = {}
    for blob in (layout_dir / "blobs/sha256").iterdir():
        files[f"blobs/sha256/{blob.name}"] = blob.read_bytes()
        media[f"blobs/sha256/{blob.name}"] = "application/octet-stream"
    media[f"blobs/sha256/{desc.digest[7:]}"] = desc.media_type
    path = kit(tmp_path / "images.kit", files, [signer], media=media).path
    return path, desc.digest, layers


@pytest.mark.services
def test_import_seeds_and_docker_pulls_by_digest(tmp_path: Path, served: tuple[Path, str], signer: Signer,
                                                 docker_host: str) -> None:
    home, addr = served
    path, digest, _layers = _image_kit(tmp_path, signer)
    out = json.loads(stella("import", str(path), "--json", home=home).output)
    assert out["seed"]["images"] == 1 and out["seed"]["blobsPushed"] == 3, out["seed"]
    client = docker.DockerClient(base_url=docker_host)
    try:
        image = client.images.pull(f"{addr}/apps/web@{digest}")
        assert f"{addr}/apps/web@{digest}" in image.attrs["RepoDigests"]
        tagged = client.images.pull(f"{addr}/apps/web", tag="1.0")
        assert tagged.id == image.id
        client.images.remove(str(image.id), force=True)
    finally:
        client.close()
    again = json.loads(stella("registry", "seed", "--json", home=home).output)
    assert again["manifestsPushed"] == 0 and again["blobsPushed"] == 0      # idempotent


@pytest.mark.services
def test_seed_resumes_after_interruption(tmp_path: Path, served: tuple[Path, str], signer: Signer,
                                         docker_host: str) -> None:
    home, addr = served
    registry_config.save(Home(home), registry_config.RegistrySettings(addr, autoseed=False))
    path, digest, layers = _image_kit(tmp_path, signer)
    assert stella("import", str(path), home=home).exit_code == 0
    partial = Seeder(addr, BlobStore(home / "blobs/sha256"))     # an interrupted seed: one layer pushed
    try:
        partial._blob("apps/web", layers[0])
    finally:
        partial.close()
    report = json.loads(stella("registry", "seed", "--json", home=home).output)
    assert report["blobsPresent"] == 1 and report["blobsPushed"] == 2 and report["manifestsPushed"] == 2
    client = docker.DockerClient(base_url=docker_host)
    try:
        image = client.images.pull(f"{addr}/apps/web@{digest}")
        assert f"{addr}/apps/web@{digest}" in image.attrs["RepoDigests"]
        client.images.remove(str(image.id), force=True)
    finally:
        client.close()


def test_seed_without_registry_fails_clearly(tmp_path: Path, home: Path, signer: Signer) -> None:
    path, _digest, _ = _image_kit(tmp_path, signer)
    out = json.loads(stella("import", str(path), "--json", home=home).output)
    assert out["status"] == "imported" and "does not answer" in out["seed"]["error"]
    result = stella("registry", "seed", home=home)
    assert result.exit_code == 4 and "does not answer" in result.output


def test_default_registry_addr_needs_no_docker_config() -> None:
    """The appliance registry speaks plain HTTP; Docker pulls from it unasked only on loopback
    (the pull test above does so from 127.0.0.1 with a dockerd that has no insecure-registries)."""
    assert plain_http_by_default(registry_config.DEFAULT_ADDR)
    assert not plain_http_by_default("10.0.0.5:5000")


class _Images:
    def get(self, ref: str) -> None:
        raise docker.errors.ImageNotFound(ref)

    def pull(self, repo: str, tag: str) -> None:
        raise docker.errors.APIError("http: server gave HTTP response to HTTPS client")


class _Engine:
    images = _Images()


@pytest.mark.parametrize(("registry", "hint"), [("10.0.0.5:5000", True), ("registry.example:5000", True),
                                                ("127.0.0.1:5000", False), ("localhost:5000", False),
                                                ("[::1]:5000", False)])
def test_pull_failure_names_insecure_registries_for_non_loopback(registry: str, hint: bool) -> None:
    ref = f"{registry}/apps/web@sha256:{'a' * 64}"
    with pytest.raises(DeployError) as info:
        ensure_images(_Engine(), [ref], "target t1")  # type: ignore[arg-type]   # a fake engine: no traffic
    assert info.value.kind == "registry-unreachable"
    assert ("insecure-registries" in str(info.value)) is hint
