"""The findings reader takes the bundler's own CycloneDX output: image, layers, upstream."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from packageurl import PackageURL

from bundler.sbom.cyclonedx import to_cyclonedx
from bundler.sbom.model import Catalog, Component, Distro, ImageSubject
from kit.findings.component import Location
from kit.findings.engine import evaluate
from kit.findings.index import MemoryIndex
from kit.findings.sbom import load_sboms

from .conftest import advisory

DIGEST = "sha256:" + "c" * 64
LAYER = "sha256:" + "d" * 64


def test_reads_bundler_cyclonedx(tmp_path: Path) -> None:
    subject = ImageSubject("registry.example", "team/web", DIGEST, tag="1.0")
    comps = (
        Component("pkg:deb/debian/libssl3@3.0.11-1~deb12u1?arch=amd64&distro=debian-12&upstream=openssl",
                  "libssl3", "3.0.11-1~deb12u1", "deb", "var/lib/dpkg/status", LAYER),
        Component("pkg:pypi/demo@1.0", "demo", "1.0", "pypi", "site-packages/demo", LAYER),
    )
    catalog = Catalog(subject, tuple(sorted(comps)), Distro("debian", "12"))
    path = tmp_path / "web.cdx.json"
    path.write_bytes(to_cyclonedx(catalog, datetime(2024, 1, 1, tzinfo=UTC)))
    found, problems = load_sboms([path])
    assert problems == ()
    assert [c.name for c in found] == ["libssl3", "demo"]
    assert found[0].locations[0].layer == LAYER
    image = found[0].locations[0].image
    assert PackageURL.from_string(image).version == DIGEST  # what VEX image products match on
    deb = advisory("DSA-1", "openssl", ecosystem="Debian:12",
                   events=[{"introduced": "0"}, {"fixed": "3.0.11-1~deb12u2"}])
    out = evaluate(found, MemoryIndex([deb]))
    assert [(f.id, f.name) for f in out.findings] == [("DSA-1", "libssl3")]
    assert isinstance(out.findings[0].locations[0], Location)


def test_go_standard_library_and_modules_from_a_binary_match_osv_go_records(tmp_path: Path) -> None:
    """What the go-binary cataloger writes matches OSV's Go ecosystem as osv.dev publishes it:
    the standard library as `stdlib` with plain versions, modules with `v` versions."""
    subject = ImageSubject("registry.example", "team/api", DIGEST)
    comps = (
        Component("pkg:golang/stdlib@1.22.3", "stdlib", "1.22.3", "golang", "usr/bin/api", LAYER, (), "go-binary"),
        Component("pkg:golang/golang.org/x/net@v0.20.0", "golang.org/x/net", "v0.20.0", "golang",
                  "usr/bin/api", LAYER, (), "go-binary"),
    )
    path = tmp_path / "api.cdx.json"
    path.write_bytes(to_cyclonedx(Catalog(subject, tuple(sorted(comps))), datetime(2024, 1, 1, tzinfo=UTC)))
    found, problems = load_sboms([path])
    assert problems == ()
    std = advisory("GO-2024-2887", "stdlib", ecosystem="Go", events=[{"introduced": "1.22.0-0"}, {"fixed": "1.22.4"}])
    net = advisory("GO-2024-2687", "golang.org/x/net", ecosystem="Go",
                   events=[{"introduced": "0"}, {"fixed": "0.23.0"}])
    fixed = advisory("GO-2023-1", "stdlib", ecosystem="Go", events=[{"introduced": "0"}, {"fixed": "1.21.0"}])
    out = evaluate(found, MemoryIndex([std, net, fixed]))
    assert sorted((f.id, f.name) for f in out.findings) == [("GO-2024-2687", "golang.org/x/net"),
                                                            ("GO-2024-2887", "stdlib")]
