"""The fast layer scanner against the tarfile reader it replaces (no services)."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest
import zstandard

from bundler.sbom import layers as L
from bundler.sbom.errors import HostileLayerError, LayerError, LayerLimitError
from bundler.sbom.layers import LayerLimits, ScanCache, read_layers


def _tar(fmt: int, entries: list[tuple[str, str, bytes | str]]) -> bytes:
    """entries: (name, kind 'f'/'d'/'l'/'s', data or link target)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for name, kind, payload in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000.25 if fmt == tarfile.PAX_FORMAT else 1_700_000_000
            if kind == "f":
                assert isinstance(payload, bytes)
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
                continue
            info.type = {"d": tarfile.DIRTYPE, "l": tarfile.LNKTYPE, "s": tarfile.SYMTYPE}[kind]
            if kind != "d":
                info.linkname = str(payload)
            tar.addfile(info)
    return buf.getvalue()


LONG = "usr/lib/python3/dist-packages/" + "x" * 120 + "/pkg-1.0.dist-info/METADATA"
ENTRIES = [("etc", "d", b""), ("etc/os-release", "f", b"ID=debian\n"),
           (LONG, "f", b"Name: pkg\nVersion: 1.0\n"),
           ("usr/lib/python3/dist-packages/" + "y" * 150 + "/link.dist-info/METADATA", "l", LONG),
           ("var/lib/dpkg/status", "f", b"Package: a\nVersion: 1\n"),
           ("empty.dist-info/METADATA", "f", b""), ("big.bin", "f", bytes(range(256)) * 4000),
           ("ünïcode.dist-info/METADATA", "f", b"Name: u\n"), ("sym", "s", "etc/os-release")]


def _wanted(path: str) -> bool:
    return path.endswith(("METADATA", "os-release", "status")) or path == "sym"


def _both(path: Path, limits: LayerLimits | None = None) -> tuple[object, object]:
    limits = limits or LayerLimits()
    return (L._scan_fast(path, _wanted, limits, "w"), L._scan_tarfile(path, _wanted, limits, "w"))


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT])
@pytest.mark.parametrize("compress", ["none", "gzip", "gzip-multi", "zstd"])
def test_same_changes_as_tarfile(tmp_path: Path, fmt: int, compress: str) -> None:
    entries = ENTRIES if fmt != tarfile.USTAR_FORMAT else [
        e for e in ENTRIES if len(e[0]) <= 100 and len(str(e[2])) <= 100 and e[0].isascii()]
    data = _tar(fmt, entries)
    if compress == "gzip":
        data = gzip.compress(data)
    elif compress == "gzip-multi":   # several gzip members (and zero padding) in a row
        data = gzip.compress(data[:7000]) + b"\0" * 10 + gzip.compress(data[7000:])
    elif compress == "zstd":
        data = zstandard.ZstdCompressor().compress(data)
    path = tmp_path / "layer"
    path.write_bytes(data)
    fast, ref = _both(path)
    assert fast == ref
    assert (LONG in fast.added) == (fmt != tarfile.USTAR_FORMAT)  # type: ignore[attr-defined]


def test_hard_link_to_a_lower_layer_and_shared_scans(tmp_path: Path) -> None:
    (tmp_path / "0").write_bytes(_tar(tarfile.PAX_FORMAT, [("a/METADATA", "f", b"Name: a\n")]))
    (tmp_path / "1").write_bytes(gzip.compress(_tar(tarfile.GNU_FORMAT, [
        ("b/METADATA", "l", "a/METADATA"), ("c/METADATA", "l", "nowhere/METADATA")])))
    layers = [("sha256:0", tmp_path / "0"), ("sha256:1", tmp_path / "1")]
    scans = ScanCache()
    first = read_layers("img", layers, _wanted, scans=scans, wants_key="k")
    again = read_layers("img2", layers, _wanted, scans=scans, wants_key="k")
    assert first == again and first["b/METADATA"].data == b"Name: a\n"
    assert "c/METADATA" not in first
    # a cached upper layer over a different lower layer resolves against that one
    (tmp_path / "2").write_bytes(_tar(tarfile.PAX_FORMAT, [("a/METADATA", "f", b"Name: z\n")]))
    other = read_layers("img3", [("sha256:2", tmp_path / "2"), layers[1]], _wanted,
                        scans=scans, wants_key="k")
    assert other["b/METADATA"].data == b"Name: z\n"


def _raw_member(name: bytes, size: int, data: bytes, typeflag: bytes = b"0") -> bytes:
    info = tarfile.TarInfo("x")
    info.size = size
    info.type = typeflag
    block = bytearray(info.tobuf(tarfile.USTAR_FORMAT))
    block[0:100] = name.ljust(100, b"\0")
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block) + data + bytes(-len(data) % 512)


@pytest.mark.parametrize("data", [
    b"",                                                       # empty file
    _raw_member(b"../../etc/passwd", 1, b"x")[:400],           # truncated first header
    _raw_member(b"a/METADATA", 5000, b"y" * 100),              # wanted file cut short
    _raw_member(b"skip.bin", 5000, b"y" * 100),                # skipped content cut short
    _raw_member(b"././@LongLink", 20, b"a" * 20, b"L"),        # long name, then nothing
    gzip.compress(_tar(tarfile.PAX_FORMAT, ENTRIES))[:-30],    # truncated gzip
])
def test_broken_layers_are_layer_errors(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "layer"
    path.write_bytes(data)
    with pytest.raises(LayerError, match="image img layer sha256:0: not a readable tar"):
        read_layers("img", [("sha256:0", path)], _wanted)


@pytest.mark.parametrize("fmt", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT])
def test_traversal_in_long_names_and_link_targets(tmp_path: Path, fmt: int) -> None:
    path = tmp_path / "layer"
    path.write_bytes(gzip.compress(_tar(fmt, [("a/" + "b" * 120 + "/../../../../x", "f", b"")])))
    with pytest.raises(HostileLayerError, match="escapes"):
        read_layers("img", [("sha256:0", path)], _wanted)
    path.write_bytes(_tar(fmt, [("a/METADATA", "l", "../../" + "c" * 120)]))
    with pytest.raises(HostileLayerError, match="escapes"):
        read_layers("img", [("sha256:0", path)], _wanted)


def test_limits_apply_to_the_fast_reader(tmp_path: Path) -> None:
    path = tmp_path / "layer"
    path.write_bytes(gzip.compress(_tar(tarfile.PAX_FORMAT, ENTRIES)))
    with pytest.raises(LayerLimitError, match="uncompressed bytes"):
        read_layers("img", [("sha256:0", path)], _wanted, limits=LayerLimits(max_layer_bytes=4096))
    with pytest.raises(LayerLimitError, match="METADATA is 23 bytes"):
        read_layers("img", [("sha256:0", path)], _wanted, limits=LayerLimits(max_file_bytes=20))
    with pytest.raises(LayerLimitError, match="entries"):
        read_layers("img", [("sha256:0", path)], _wanted, limits=LayerLimits(max_entries=3))


def test_unusual_members_fall_back_to_tarfile(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT,
                      pax_headers={"path": "g/METADATA"}) as tar:   # global pax path
        info = tarfile.TarInfo("a/METADATA")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    path = tmp_path / "layer"
    path.write_bytes(buf.getvalue())
    fast = L.scan_layer("sha256:0", path, _wanted, LayerLimits(), "w")
    assert fast == L._scan_tarfile(path, _wanted, LayerLimits(), "w")
