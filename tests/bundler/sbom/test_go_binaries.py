"""Go binaries in layers: found by content, kept as an excerpt, cataloged (no services)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from bundler.sbom import layers as layers_mod
from bundler.sbom.catalogers.golang import PROBE, GoCataloger
from bundler.sbom.gobuildinfo import MAGIC, WINDOW
from bundler.sbom.layers import LayerLimits, read_layers
from bundler.sbom.probe import STEP
from tests.bundler.sbom.test_gobuildinfo import blob
from tests.images import make_tar

RUNC = Path("/usr/bin/runc")        # docker.io's runc: a real Go binary built without modules
MODINFO = ("path\texample.com/app\nmod\texample.com/app\tv1.4.0\th1:a=\n"
           "dep\tgolang.org/x/net\tv0.20.0\th1:b=\nbuild\tGOOS=linux\n")


def fake_go_binary(at: int) -> bytes:
    """An ELF file whose build info sits at offset *at* (16-aligned), after two decoys:
    the magic at an odd offset, and an aligned magic that is not build info."""
    assert at % 16 == 0 and at > 4096
    head = b"\x7fELF" + b"\0" * 100 + MAGIC + b"junk" + b"\0" * (2048 - 104 - len(MAGIC) - 4)
    head += MAGIC + b"\x08\x02not build info"
    return head + b"\x90" * (at - len(head)) + blob("go1.22.3", MODINFO) + b"\0" * 5000


def _layer(tmp_path: Path, name: str, files: dict[str, bytes], modes: dict[str, int]) -> tuple[str, Path]:
    tar = make_tar(files)
    # make_tar gives bin/ 0o755 and the rest 0o644: set the modes this test is about
    import io
    import tarfile
    src, out = tarfile.open(fileobj=io.BytesIO(tar)), io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as dst:
        for member in src.getmembers():
            member.mode = modes.get(member.name, member.mode)
            dst.addfile(member, src.extractfile(member) if member.isreg() else None)
    path = tmp_path / name
    path.write_bytes(gzip.compress(out.getvalue(), 1))
    return f"sha256:{name:0>64}", path


def _catalog(layers: list[tuple[str, Path]]) -> list[tuple[str, str, str]]:
    files = read_layers("img", layers, lambda p: False, probe=PROBE)
    assert all(len(f.data) <= WINDOW for f in files.values())
    assert all(len(f.data) < 64 * 1024 for f in files.values())   # the build info, not the window
    return [(c.purl, c.path, c.layer) for c in GoCataloger().catalog(files, None, "img")]


@pytest.mark.parametrize("at", [8192, STEP - 16, STEP + 4096])   # inside, across and past a piece
def test_build_info_is_found_wherever_it_sits(tmp_path: Path, at: int) -> None:
    layer = _layer(tmp_path, "a", {"usr/local/bin/app": fake_go_binary(at)}, {"usr/local/bin/app": 0o755})
    assert _catalog([layer]) == [
        ("pkg:golang/stdlib@1.22.3", "usr/local/bin/app", layer[0]),
        ("pkg:golang/example.com/app@v1.4.0", "usr/local/bin/app", layer[0]),
        ("pkg:golang/golang.org/x/net@v0.20.0", "usr/local/bin/app", layer[0])]


def test_only_executables_that_are_not_shared_libraries_are_looked_into(tmp_path: Path) -> None:
    go = fake_go_binary(8192)
    layer = _layer(tmp_path, "b", {"opt/data.bin": go, "usr/lib/libgo.so.1": go, "usr/bin/script": b"#!/bin/sh\n" + go},
                   {"opt/data.bin": 0o644, "usr/lib/libgo.so.1": 0o755, "usr/bin/script": 0o755})
    assert _catalog([layer]) == []


def test_a_whiteout_removes_the_binary_and_the_reference_reader_agrees(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    base = _layer(tmp_path, "c", {"app": fake_go_binary(8192), "keep": fake_go_binary(16384)},
                  {"app": 0o755, "keep": 0o750})
    upper = _layer(tmp_path, "d", {".wh.app": b""}, {})
    fast = _catalog([base, upper])
    assert {p for _u, p, _l in fast} == {"keep"}

    def refuse(*_a, **_k):  # force the tarfile reader, as for a layer the fast one cannot read
        raise layers_mod.tarscan.Unsupported("test")
    monkeypatch.setattr(layers_mod, "_scan_fast", refuse)
    assert _catalog([base, upper]) == fast


@pytest.mark.skipif(not RUNC.is_file(), reason="build.sh installs docker.io, which ships runc")
def test_a_real_go_binary_gives_its_standard_library(tmp_path: Path) -> None:
    layer = _layer(tmp_path, "e", {"usr/sbin/runc": RUNC.read_bytes()}, {"usr/sbin/runc": 0o755})
    found = _catalog([layer])
    assert len(found) == 1 and found[0][0].startswith("pkg:golang/stdlib@1.") and found[0][1] == "usr/sbin/runc"


def test_a_truncated_binary_is_a_layer_error(tmp_path: Path) -> None:
    path, = [_layer(tmp_path, "f", {"app": fake_go_binary(STEP + 4096)}, {"app": 0o755})[1]]
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:len(raw) // 2], 1))
    with pytest.raises(layers_mod.LayerError):
        read_layers("img", [("sha256:" + "f" * 64, path)], lambda p: False, probe=PROBE, limits=LayerLimits())
