"""A real deployable site for deploy tests: busybox images in a signed kit with release
documents and compose templates, imported into a home whose own registry runs on loopback."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import yaml

from bundler.oci.layout import OCILayout
from kit.canonical import dumps
from kit.crypto import Signer
from tests.appliance.helpers import kit
from tests.appliance.promotions.kits import records_ndjson, sbom, sources_json
from tests.images import DIR, Layer, Link, make_image

ORCH_MEDIA = {"advisories/records.ndjson": "application/vnd.stella.advisories+ndjson",
              "advisories/sources.json": "application/vnd.stella.advisory-sources+json",
              "releases": "application/vnd.stella.release+json",
              "compose": "application/vnd.stella.compose-template+yaml"}


_NEXT_PORT = [20000 + (os.getpid() * 7919) % 10000]


def free_port() -> int:
    """A port free now, below the ephemeral range: a port the kernel hands out for port 0
    may also become the source port of some outgoing connection before a container binds
    it (busybox httpd then exits at once), and the same port can come back twice."""
    while True:
        port = _NEXT_PORT[0]
        _NEXT_PORT[0] = 20000 + (port - 20000 + 1) % 12000
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


def rootfs(label: str) -> dict[str, object]:
    """busybox, sh, and a page naming the image (distinct content: distinct digests)."""
    return {"bin/": DIR, "bin/busybox": Path("/bin/busybox").read_bytes(), "bin/sh": Link("busybox"),
            "www/": DIR, "www/index.html": f"{label}\n".encode(), "tmp/": DIR}


def web(port: int, health_port: int | None = None, *, image: str | None = None, crash: bool = False,
        health: bool = True) -> dict[str, object]:
    """A compose service: busybox httpd on 127.0.0.1:PORT, healthcheck on *health_port*."""
    cmd = "exit 3" if crash else f"exec /bin/busybox httpd -f -p 127.0.0.1:{port} -h /www"
    svc: dict[str, object] = {"network_mode": "host", "command": ["/bin/busybox", "sh", "-c", cmd],
                              "restart": "no", "stop_signal": "SIGKILL"}  # busybox as PID 1 ignores TERM
    if image:
        svc["image"] = image
    if health:
        svc["healthcheck"] = {"test": ["CMD", "/bin/busybox", "wget", "-q", "-O", "/dev/null",
                                       f"http://127.0.0.1:{health_port or port}/"],
                              "interval": "1s", "timeout": "1s", "retries": 2, "start_period": "0s"}
    return svc


@dataclass(frozen=True)
class Rel:
    name: str
    version: str
    services: dict[str, dict[str, object]]          # compose services
    images: dict[str, str]                          # component service → image label (content)


def build_kit(tmp: Path, signer: Signer, rels: list[Rel], *, sequence: int = 1) -> Path:
    layout_dir = tmp / f"layout-{sequence}"
    layout = OCILayout(layout_dir)
    files: dict[str, bytes] = {}
    media: dict[str, str] = dict(ORCH_MEDIA)
    index = []
    for rel in rels:
        components = []
        for svc, label in sorted(rel.images.items()):
            desc, _ = make_image(layout, [Layer(rootfs(label))])
            ref = f"registry.example/{rel.name}/{svc}:{rel.version}"
            index.append({**desc.to_dict(), "annotations": {"org.opencontainers.image.ref.name": ref}})
            sbom_path = f"sboms/{desc.digest[7:]}.cdx.json"
            files[sbom_path] = sbom(f"{rel.name}-{svc}", [("flask", "3.0.0")])
            media[sbom_path] = "application/vnd.cyclonedx+json"
            components.append({"service": svc, "reference": ref, "image": f"registry.example/{rel.name}/{svc}",
                               "tag": rel.version, "digest": desc.digest, "mediaType": desc.media_type,
                               "sourceDigest": desc.digest, "filtered": False,
                               "manifests": [{"digest": desc.digest, "platform": "linux/amd64", "config": None,
                                              "sboms": {"cyclonedx": sbom_path, "spdx": sbom_path}}]})
            media[f"blobs/sha256/{desc.digest[7:]}"] = desc.media_type
        compose_path = f"releases/{rel.name}/{rel.version}/compose.yaml"
        files[compose_path] = yaml.safe_dump({"services": rel.services}, sort_keys=True).encode()
        media[compose_path] = ORCH_MEDIA["compose"]
        doc = {"_type": "stella/release", "name": rel.name, "version": rel.version, "created": "2026-01-01T00:00:00Z",
               "compose": {"path": compose_path}, "components": components}
        files[f"releases/{rel.name}/{rel.version}.json"] = dumps(doc)
    for blob in (layout_dir / "blobs/sha256").iterdir():
        files[f"blobs/sha256/{blob.name}"] = blob.read_bytes()
        media.setdefault(f"blobs/sha256/{blob.name}", "application/octet-stream")
    files["oci/index.json"] = json.dumps({"schemaVersion": 2, "manifests": index}).encode()
    from tests.appliance.promotions.conftest import ADVISORIES, SNAPSHOT
    files["advisories/records.ndjson"] = records_ndjson(ADVISORIES)
    files["advisories/sources.json"] = sources_json(len(ADVISORIES), SNAPSHOT)
    return kit(tmp / f"site-{sequence}.stella-kit", files, [signer], sequence=sequence, media=media).path
