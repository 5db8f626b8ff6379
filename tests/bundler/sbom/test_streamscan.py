"""Layers scanned while they download: published only for verified blobs, never waited on."""

from __future__ import annotations

import gzip
import os
import threading
from pathlib import Path

import pytest

from bundler.oci import Puller, Registries
from bundler.oci.errors import DigestMismatchError
from bundler.oci.layout import OCILayout
from bundler.sbom import streamscan
from bundler.sbom.catalog import _wants, layer_tap
from bundler.sbom.catalogers import DEFAULT_CATALOGERS
from bundler.sbom.layers import LayerLimits, ScanCache, scan_layer
from bundler.sbom.streamscan import StreamingScan
from tests.images import Layer, debian_rootfs, make_image, make_tar, push, test_client as registry_client

LIMITS = LayerLimits()
WANTS, WANTS_KEY, PROBE = _wants(DEFAULT_CATALOGERS)


def _key(digest: str) -> tuple[str, object, LayerLimits]:
    return (digest, WANTS_KEY, LIMITS)


def _feed(scan: StreamingScan, data: bytes, piece: int = 65536) -> None:
    for at in range(0, len(data), piece):
        scan.feed(data[at:at + piece])


def _blob(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "layer.tar.gz"
    path.write_bytes(data)
    return path


def test_a_finished_stream_publishes_the_same_scan_as_the_stored_blob(tmp_path: Path) -> None:
    data = gzip.compress(make_tar(debian_rootfs()), 1)
    digest, scans = "sha256:" + "1" * 64, ScanCache()
    scan = StreamingScan(digest, _key(digest), scans, WANTS, LIMITS, PROBE)
    assert scan.active and StreamingScan(digest, _key(digest), scans, WANTS, LIMITS, PROBE).active is False
    _feed(scan, data)
    scan.finish()
    assert scans.get(_key(digest)) == scan_layer(digest, _blob(tmp_path, data), WANTS, LIMITS, "w", PROBE)


def test_an_aborted_download_publishes_nothing(tmp_path: Path) -> None:
    data = gzip.compress(make_tar(debian_rootfs()), 1)
    digest, scans = "sha256:" + "2" * 64, ScanCache()
    scan = StreamingScan(digest, _key(digest), scans, WANTS, LIMITS, PROBE)
    _feed(scan, data[: len(data) // 2])
    scan.abort()
    assert scans.get(_key(digest)) is None       # returns at once: nobody waits on a dead scan
    scan.finish()                                # a late call changes nothing
    assert scans.get(_key(digest)) is None


def test_a_scanner_that_falls_behind_gives_up_without_slowing_the_download(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streamscan, "MAX_BEHIND", 256 * 1024)
    release = threading.Event()
    real = streamscan.scan_stream

    def slow(raw, *args, **kwargs):  # type: ignore[no-untyped-def]
        release.wait(10)
        return real(raw, *args, **kwargs)
    monkeypatch.setattr(streamscan, "scan_stream", slow)
    data = gzip.compress(make_tar({"opt/big": os.urandom(2 << 20)}), 1)
    digest, scans = "sha256:" + "3" * 64, ScanCache()
    scan = StreamingScan(digest, _key(digest), scans, WANTS, LIMITS, PROBE)
    _feed(scan, data)                            # returns although nothing was read
    scan.finish()
    release.set()
    assert scans.get(_key(digest)) is None


def test_bytes_that_are_not_a_layer_publish_nothing_and_the_stored_blob_tells_why(tmp_path: Path) -> None:
    digest, scans = "sha256:" + "4" * 64, ScanCache()
    scan = StreamingScan(digest, _key(digest), scans, WANTS, LIMITS, PROBE)
    _feed(scan, b"\x1f\x8b" + os.urandom(4096))
    scan.finish()
    assert scans.get(_key(digest)) is None


@pytest.mark.services
def test_a_pull_scans_its_layers_and_a_lying_registry_leaves_no_scan(registry: str, registries: Registries,
                                                                     tmp_path: Path) -> None:
    layout = OCILayout(tmp_path / "src")
    desc, [layer] = make_image(layout, [Layer({**debian_rootfs(), "etc/nonce": os.urandom(16)})])
    push(registry, tmp_path / "src", desc, "stella-test/streamscan:v1")
    scans = ScanCache()
    with registry_client(registry) as client:
        Puller(client, OCILayout(tmp_path / "out"), tap_layer=layer_tap(scans)).pull(
            f"{registry}/stella-test/streamscan:v1")
    stored = OCILayout(tmp_path / "out").blob_path(layer)
    assert scans.get(_key(layer)) == scan_layer(layer, stored, WANTS, LIMITS, "w", PROBE)

    # the same layer, corrupted in the registry's storage: the scan of the lying bytes is dropped
    from tests.bundler.oci.test_errors import _storage_blob
    blob = _storage_blob(layer)
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0xFF
    blob.write_bytes(bytes(data))
    scans = ScanCache()
    with registry_client(registry) as client, pytest.raises(DigestMismatchError):
        Puller(client, OCILayout(tmp_path / "again"), tap_layer=layer_tap(scans)).pull(
            f"{registry}/stella-test/streamscan:v1")
    assert scans.get(_key(layer)) is None
