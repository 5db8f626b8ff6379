"""The streaming layer reader: whiteouts, compression detection, hostile layers (no services)."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path

import pytest

from bundler.sbom.errors import HostileLayerError, LayerError, LayerLimitError
from bundler.sbom.layers import LayerLimits, read_layers
from tests.images import DIR, Link, make_tar


def _layers(tmp_path: Path, *contents: bytes) -> list[tuple[str, Path]]:
    out = []
    for i, data in enumerate(contents):
        path = tmp_path / f"layer{i}"
        path.write_bytes(data)
        out.append((f"sha256:{i:064x}", path))
    return out


def _everything(path: str) -> bool:
    return True


def test_whiteouts_and_opaque_dirs(tmp_path: Path) -> None:
    base = make_tar({"a/x": b"1", "a/y": b"2", "b/z": b"3", "c/d/e": b"4", "keep": b"5"})
    upper = make_tar({"a/.wh.x": b"", "b/.wh..wh..opq": b"", "b/new": b"6", ".wh.c": b"",
                      "keep": b"5b", "zl": Link("keep", hard=True)})
    files = read_layers("img", _layers(tmp_path, gzip.compress(base), upper), _everything)
    assert sorted(files) == ["a/y", "b/new", "keep", "zl"]
    assert files["keep"].data == b"5b" and files["zl"].data == b"5b"
    assert files["a/y"].layer == f"sha256:{0:064x}" and files["b/new"].layer == f"sha256:{1:064x}"


def test_symlink_hides_lower_file_and_history_is_kept(tmp_path: Path) -> None:
    layers = _layers(tmp_path, make_tar({"db": b"v1", "link": b"x"}),
                     make_tar({"db": b"v2", "link": Link("db"), "dir/": DIR}))
    files = read_layers("img", layers, _everything, history=lambda p: p == "db")
    assert "link" not in files
    assert [d for _l, d in files["db"].versions()] == [b"v1", b"v2"]


@pytest.mark.parametrize("name", ["../etc/passwd", "a/../../b", "./x/../.."])
def test_path_traversal_is_refused(tmp_path: Path, name: str) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(HostileLayerError, match=r"image img layer sha256:0+: entry .* escapes"):
        read_layers("img", _layers(tmp_path, buf.getvalue()), _everything)


@pytest.mark.parametrize("data", [b"this is not a tar archive" * 40, b"\x1f\x8b\x08garbage",
                                  gzip.compress(b"not tar either" * 100, mtime=0)],
                         ids=["text", "broken-gzip", "gzip-of-text"])   # stable ids: pytest-xdist compares them
def test_non_tar_data_is_a_clear_error(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(LayerError, match=r"image img layer sha256:0+: not a readable tar"):
        read_layers("img", _layers(tmp_path, data), _everything)


def test_limits(tmp_path: Path) -> None:
    layer = _layers(tmp_path, make_tar({"big": b"x" * 5000}))
    with pytest.raises(LayerLimitError, match="big is 5000 bytes"):
        read_layers("img", layer, _everything, limits=LayerLimits(max_file_bytes=100))
    with pytest.raises(LayerLimitError, match="uncompressed bytes"):
        read_layers("img", layer, _everything, limits=LayerLimits(max_layer_bytes=2048))
    with pytest.raises(LayerLimitError, match="entries"):
        read_layers("img", _layers(tmp_path, make_tar({"a": b"", "b": b""})), _everything,
                    limits=LayerLimits(max_entries=1))
