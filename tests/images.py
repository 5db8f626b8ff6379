"""Helpers that build small REAL test images and push them to the test registry.

Two ways, both real: ``docker import`` of a rootfs tar (busybox plus real package
databases) then ``docker push``; and hand-made OCI images (layers as tar or tar+gzip
blobs, config, manifest, index) written to an OCI layout and pushed with
``bundler.oci.push``. Everything is deterministic (fixed mtimes, sorted entries).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

import docker

from bundler.oci import mediatypes as mt
from bundler.oci.client import RegistryClient
from bundler.oci.config import Registries, RegistryConfig
from bundler.oci.layout import Descriptor, OCILayout
from bundler.oci.platform import Platform
from bundler.oci.push import push_image


@dataclass(frozen=True)
class Link:
    """A symlink (``hard=False``) or hard link to *target* inside a layer tar."""

    target: str
    hard: bool = False


DIR = object()  # marker: a directory entry
Entry = bytes | Link | object

DPKG_PACKAGES = ("busybox-static", "zlib1g", "libssl3", "base-files")

APK_INSTALLED = """\
C:Q1aaaaaaaaaaaaaaaaaaaaaaaaaaa=
P:musl
V:1.2.4_git20230717-r4
A:x86_64
S:407278
I:667648
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Timo Teräs <timo.teras@iki.fi>
t:1704296596
c:ca7f2ab5e88794e4e654b40776f8a92256f50639
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1bbbbbbbbbbbbbbbbbbbbbbbbbbb=

C:Q1ccccccccccccccccccccccccccc=
P:ssl_client
V:1.36.1-r15
A:x86_64
S:4981
I:14336
T:EXternal ssl_client for busybox wget
U:https://busybox.net/
L:GPL-2.0-only
o:busybox
m:Sören Tempel <soeren+alpine@soeren-tempel.net>
t:1704306553
c:1a1d2d5c3b4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a
D:so:libc.musl-x86_64.so.1

C:Q1ddddddddddddddddddddddddddd=
P:libcrypto3
V:3.1.4-r5
A:x86_64
S:1710648
I:4493312
T:Crypto library from openssl
U:https://www.openssl.org/
L:Apache-2.0
o:openssl
m:Ariadne Conill <ariadne@dereferenced.org>
t:1706619911
c:4d3f2c1b0a9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c

"""

PY_METADATA = b"""Metadata-Version: 2.1
Name: Requests_Toolbelt
Version: 1.0.0
Summary: A utility belt for advanced users of python-requests
License: Apache 2.0
Classifier: License :: OSI Approved :: Apache Software License

Long description here.
"""

EGG_PKG_INFO = b"""Metadata-Version: 1.1
Name: six
Version: 1.16.0
License: MIT
"""

NPM_PACKAGES = {
    "usr/lib/node_modules/left-pad/package.json":
        {"name": "left-pad", "version": "1.3.0", "license": "WTFPL"},
    "app/node_modules/@babel/core/package.json":
        {"name": "@babel/core", "version": "7.24.0", "license": "MIT"},
}


def dpkg_stanzas(packages: tuple[str, ...] = DPKG_PACKAGES) -> bytes:
    """Real stanzas of this machine's /var/lib/dpkg/status for *packages*."""
    text = Path("/var/lib/dpkg/status").read_text(encoding="utf-8")
    stanzas = {re.search(r"^Package: (.+)$", s, re.M).group(1): s.strip("\n")  # type: ignore[union-attr]
               for s in text.split("\n\n") if s.strip()}
    return ("\n\n".join(stanzas[p] for p in packages) + "\n").encode()


def dpkg_field(package: str, field: str) -> str:
    """A field of a package in this machine's dpkg status (for expected values)."""
    stanza = dpkg_stanzas((package,)).decode()
    match = re.search(rf"^{field}: (.+)$", stanza, re.M)
    return match.group(1) if match else ""


def debian_rootfs() -> dict[str, Entry]:
    """busybox + a real dpkg status + copyright files + os-release + python + npm packages."""
    files: dict[str, Entry] = {
        "bin/": DIR, "bin/busybox": Path("/bin/busybox").read_bytes(),
        "bin/sh": Link("busybox"),
        "etc/os-release": Link("../usr/lib/os-release"),
        "usr/lib/os-release": Path("/usr/lib/os-release").read_bytes(),
        "var/lib/dpkg/status": dpkg_stanzas(),
        "usr/lib/python3/dist-packages/requests_toolbelt-1.0.0.dist-info/METADATA": PY_METADATA,
        "usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO": EGG_PKG_INFO,
    }
    for pkg in DPKG_PACKAGES:
        files[f"usr/share/doc/{pkg}/copyright"] = Path(f"/usr/share/doc/{pkg}/copyright").read_bytes()
    for path, doc in NPM_PACKAGES.items():
        files[path] = json.dumps(doc).encode()
    return files


def alpine_rootfs() -> dict[str, Entry]:
    """busybox + an Alpine installed database in the real format + os-release."""
    return {
        "bin/busybox": Path("/bin/busybox").read_bytes(),
        "etc/os-release": b'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n',
        "lib/apk/db/installed": APK_INSTALLED.encode(),
    }


def make_tar(files: dict[str, Entry]) -> bytes:
    """A deterministic tar (sorted, mtime 0, root-owned) of *files*."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            entry = files[name]
            info = tarfile.TarInfo(name.rstrip("/"))
            info.mtime, info.mode = 0, 0o644
            if entry is DIR:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif isinstance(entry, Link):
                info.type = tarfile.LNKTYPE if entry.hard else tarfile.SYMTYPE
                info.linkname = entry.target
                tar.addfile(info)
            else:
                assert isinstance(entry, bytes)
                info.size, info.mode = len(entry), 0o755 if name.startswith("bin/") else 0o644
                tar.addfile(info, io.BytesIO(entry))
    return buf.getvalue()


def _put(layout: OCILayout, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    layout.write_bytes(digest, data, what="test image")
    return digest


@dataclass(frozen=True)
class Layer:
    """A layer: files (or raw tar bytes) and whether to gzip it."""

    content: dict[str, Entry] | bytes
    gzip: bool = True


def make_image(layout: OCILayout, layers: list[Layer],
               platform: Platform = Platform("linux", "amd64"),
               docker_types: bool = False, created: str | None = None) -> tuple[Descriptor, list[str]]:
    """Write a single-platform image (its config's ``created`` only when given); returns its
    manifest descriptor and layer digests."""
    blobs, diff_ids = [], []
    for layer in layers:
        tar = layer.content if isinstance(layer.content, bytes) else make_tar(layer.content)
        diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
        data = gzip.compress(tar, mtime=0) if layer.gzip else tar
        if docker_types:
            media = mt.DOCKER_LAYER_GZIP
        else:
            media = mt.OCI_LAYER_GZIP if layer.gzip else mt.OCI_LAYER
        blobs.append({"mediaType": media, "digest": _put(layout, data), "size": len(data)})
    config = json.dumps({"architecture": platform.architecture, "os": platform.os,
                         **({"variant": platform.variant} if platform.variant else {}),
                         "config": {"Cmd": ["/bin/busybox", "sh"]},
                         "rootfs": {"type": "layers", "diff_ids": diff_ids},
                         **({"created": created} if created is not None else {})},
                        sort_keys=True).encode()
    manifest = {"schemaVersion": 2,
                "mediaType": mt.DOCKER_MANIFEST if docker_types else mt.OCI_MANIFEST,
                "config": {"mediaType": mt.DOCKER_CONFIG if docker_types else mt.OCI_CONFIG,
                           "digest": _put(layout, config), "size": len(config)},
                "layers": blobs}
    raw = json.dumps(manifest, indent=3).encode()  # odd indent: proves bytes are kept raw
    return Descriptor(manifest["mediaType"], _put(layout, raw), len(raw)), \
        [b["digest"] for b in blobs]


def make_index(layout: OCILayout, manifests: list[tuple[Descriptor, Platform]]) -> Descriptor:
    """Write an OCI index over single-platform manifests."""
    doc = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX,
           "manifests": [dict(d.to_dict(), platform=p.to_dict()) for d, p in manifests],
           "annotations": {"org.opencontainers.image.title": "stella test"}}
    raw = json.dumps(doc, indent=2).encode()
    return Descriptor(mt.OCI_INDEX, _put(layout, raw), len(raw))


def test_client(registry: str) -> RegistryClient:
    """A client for the loopback test registry (plain HTTP)."""
    return RegistryClient(Registries({registry: RegistryConfig(registry, insecure=True)}))


def push(registry: str, layout_dir: Path, desc: Descriptor, target: str) -> str:
    """Push *desc* from the layout to ``registry/target``; returns the digest."""
    with test_client(registry) as client:
        return push_image(client, layout_dir, desc.digest, desc.media_type,
                          f"{registry}/{target}")


def docker_import_push(docker_host: str, registry: str, files: dict[str, Entry],
                       repo: str, tag: str) -> str:
    """``docker import`` a rootfs tar and ``docker push`` it; returns the pushed digest."""
    client = docker.DockerClient(base_url=docker_host)
    try:
        name = f"{registry}/{repo}"
        client.api.import_image_from_data(make_tar(files), repository=name, tag=tag)
        digest = ""
        for line in client.api.push(name, tag=tag, stream=True, decode=True):
            if "error" in line:
                raise RuntimeError(f"docker push {name}:{tag}: {line['error']}")
            digest = line.get("aux", {}).get("Digest", digest)
        return digest
    finally:
        client.close()


# -- the images the oci and sbom tests share --------------------------------------------

@dataclass(frozen=True)
class Published:
    """References (and expected values) of the images pushed once per test session."""

    registry: str
    deb: str                 # docker import of debian_rootfs()
    deb_digest: str
    layered: str             # hand-made 3-layer image with whiteouts
    layered_layers: tuple[str, ...]
    alpine: str              # hand-made Alpine image (uncompressed layer)
    multi: str               # OCI index: linux/amd64 (debian) + linux/arm64 (alpine)
    multi_digest: str
    shared: str              # shares its base layer with `layered`


_CACHE: dict[str, Published] = {}

UPPER_DPKG = b"""Package: stella-extra
Status: install ok installed
Priority: optional
Section: misc
Installed-Size: 10
Maintainer: Stella Ops <ops@example.invalid>
Architecture: all
Source: stella-extra-src (2.0-1)
Version: 2.0-1+b1
Description: package added in the second layer
"""


def layered_layers() -> list[Layer]:
    """Base rootfs; then whiteouts + a grown dpkg status; then an opaque python dir."""
    base = debian_rootfs()
    upper = {
        "var/lib/dpkg/status": base["var/lib/dpkg/status"] + b"\n" + UPPER_DPKG,  # type: ignore[operator]
        "usr/lib/node_modules/.wh.left-pad": b"",
        "app/node_modules/@babel/core/.wh.package.json": b"",
    }
    top = {
        "usr/lib/python3/dist-packages/.wh..wh..opq": b"",
        "usr/lib/python3/dist-packages/attrs-23.2.0.dist-info/METADATA":
            b"Metadata-Version: 2.3\nName: attrs\nVersion: 23.2.0\nLicense-Expression: MIT\n",
    }
    return [Layer(base), Layer(upper, gzip=False), Layer(top)]


def publish(registry: str, docker_host: str, workdir: Path) -> Published:
    """Build and push every shared test image once per session."""
    if registry in _CACHE:
        return _CACHE[registry]
    # docker import stamps the image with the time: each pytest-xdist worker pushes its own tag, or one
    # worker's push would move the tag under another's assertions
    deb_tag = "v1" + (f"-{os.environ['PYTEST_XDIST_WORKER']}" if os.environ.get("PYTEST_XDIST_WORKER") else "")
    deb_digest = docker_import_push(docker_host, registry, debian_rootfs(), "stella-test/deb", deb_tag)
    layout = OCILayout(workdir / "src")
    layered, digests = make_image(layout, layered_layers())
    push(registry, workdir / "src", layered, "stella-test/layered:v1")
    shared, _ = make_image(layout, [layered_layers()[0], Layer({"etc/motd": b"hi\n"})])
    push(registry, workdir / "src", shared, "stella-test/shared:v1")
    alpine, _ = make_image(layout, [Layer(alpine_rootfs(), gzip=False)], docker_types=False)
    push(registry, workdir / "src", alpine, "stella-test/alpine:v1")
    arm, _ = make_image(layout, [Layer(alpine_rootfs())], Platform("linux", "arm64", "v8"))
    index = make_index(layout, [(layered, Platform("linux", "amd64")),
                                (arm, Platform("linux", "arm64", "v8"))])
    multi_digest = push(registry, workdir / "src", index, "stella-test/multi:v1")
    _CACHE[registry] = Published(
        registry, f"{registry}/stella-test/deb:{deb_tag}", deb_digest,
        f"{registry}/stella-test/layered:v1", tuple(digests), f"{registry}/stella-test/alpine:v1",
        f"{registry}/stella-test/multi:v1", multi_digest, f"{registry}/stella-test/shared:v1")
    return _CACHE[registry]
