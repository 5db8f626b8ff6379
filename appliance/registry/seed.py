"""Seed the local registry from the content store: byte-exact, idempotent, resumable.

For each image (table ``images``) the manifest's blobs are pushed first (HEAD, then
POST + PUT streamed from the store file: an httpx body from a file object, never
bytes), the manifest last as its RAW bytes with its own media type, so the digest
the registry computes is the one in the kit. An index pushes its children first. A
manifest the registry already has (HEAD 200) means everything below it is there too,
because manifests are always pushed after their content: an interrupted seed resumes
where it stopped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import sqlite_utils

from appliance.errors import RegistryError
from appliance.registry.mediatypes import INDEX_TYPES, MANIFEST_TYPES as _MANIFEST_TYPES
from appliance.store.blobs import BlobStore
from kit.timeutil import format_time, now


@dataclass
class SeedReport:
    images: int = 0
    manifests_pushed: int = 0
    blobs_pushed: int = 0
    blobs_present: int = 0
    bytes_pushed: int = 0
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"images": self.images, "manifestsPushed": self.manifests_pushed, "blobsPushed": self.blobs_pushed,
                "blobsPresent": self.blobs_present, "bytesPushed": self.bytes_pushed, "skipped": self.skipped}


def images_to_seed(db: sqlite_utils.Database, kit_id: str | None = None) -> list[tuple[str, str, str | None, str]]:
    """(repository, digest, tag, media type) of every imported image (or of one kit)."""
    sql = "SELECT DISTINCT repository, digest, tag, media_type FROM images"
    args: list[str] = []
    if kit_id:
        sql += " WHERE kit_id = ?"
        args.append(kit_id)
    rows = db.execute(sql + " ORDER BY repository, digest", args)
    return [(repo, digest, tag, media_type) for repo, digest, tag, media_type in rows]


class Seeder:
    def __init__(self, addr: str, store: BlobStore, timeout: float = 30.0):
        self.addr = addr
        self.store = store
        self.client = httpx.Client(base_url=f"http://{addr}", timeout=httpx.Timeout(timeout, read=300.0))
        self.report = SeedReport()

    def close(self) -> None:
        self.client.close()

    def ping(self) -> bool:
        try:
            return self.client.get("/v2/").status_code == 200
        except httpx.HTTPError:
            return False

    def seed(self, repository: str, digest: str, media_type: str, tag: str | None = None) -> None:
        self.report.images += 1
        self._manifest(repository, digest, media_type)
        if tag:
            self._tag(repository, digest, tag)

    def _manifest(self, repo: str, digest: str, media_type: str) -> None:
        url = f"/v2/{repo}/manifests/{digest}"
        if self._head(url):
            return
        if not self.store.has(digest):
            self.report.skipped.append(f"{repo}@{digest}: manifest not in the content store")
            return
        raw = self.store.path(digest).read_bytes()
        doc = json.loads(raw)
        media_type = doc.get("mediaType") or media_type
        for child in _children(doc, media_type):
            if child.get("mediaType") in INDEX_TYPES or _is_manifest(child):
                if not self.store.has(child["digest"]):
                    raise RegistryError(f"{repo}@{digest}: index entry {child['digest']} is not in the content store")
                self._manifest(repo, child["digest"], child.get("mediaType", ""))
            else:
                self._blob(repo, child["digest"])
        self._put_manifest(url, raw, media_type)

    def _tag(self, repo: str, digest: str, tag: str) -> None:
        url = f"/v2/{repo}/manifests/{tag}"
        head = self.client.head(url, headers={"Accept": ", ".join(sorted(INDEX_TYPES | _MANIFEST_TYPES))})
        if head.status_code == 200 and head.headers.get("Docker-Content-Digest") == digest:
            return
        if not self.store.has(digest):
            return
        raw = self.store.path(digest).read_bytes()
        media_type = json.loads(raw).get("mediaType") or "application/vnd.oci.image.manifest.v1+json"
        self._put_manifest(url, raw, media_type)

    def _put_manifest(self, url: str, raw: bytes, media_type: str) -> None:
        resp = self.client.put(url, content=raw, headers={"Content-Type": media_type})
        if resp.status_code != 201:
            raise RegistryError(f"PUT {url}: {resp.status_code} {resp.text[:200]}")
        self.report.manifests_pushed += 1

    def _head(self, url: str) -> bool:
        resp = self.client.head(url, headers={"Accept": ", ".join(sorted(INDEX_TYPES | _MANIFEST_TYPES))})
        return resp.status_code == 200

    def _blob(self, repo: str, digest: str) -> None:
        if self._head(f"/v2/{repo}/blobs/{digest}"):
            self.report.blobs_present += 1
            return
        if not self.store.has(digest):
            raise RegistryError(f"{repo}: blob {digest} is not in the content store")
        start = self.client.post(f"/v2/{repo}/blobs/uploads/")
        if start.status_code != 202:
            raise RegistryError(f"POST /v2/{repo}/blobs/uploads/: {start.status_code} {start.text[:200]}")
        location = start.headers["Location"]
        sep = "&" if "?" in location else "?"
        path = self.store.path(digest)
        with open(path, "rb") as fh:   # a file object: httpx streams it (a bytes body is 10x slower)
            resp = self.client.put(f"{location}{sep}digest={digest}", content=fh,
                                   headers={"Content-Type": "application/octet-stream",
                                            "Content-Length": str(path.stat().st_size)})
        if resp.status_code != 201:
            raise RegistryError(f"upload of {digest} to {repo}: {resp.status_code} {resp.text[:200]}")
        self.report.blobs_pushed += 1
        self.report.bytes_pushed += path.stat().st_size




def _is_manifest(desc: dict[str, Any]) -> bool:
    return desc.get("mediaType") in _MANIFEST_TYPES


def _children(doc: dict[str, Any], media_type: str) -> Iterator[dict[str, Any]]:
    if media_type in INDEX_TYPES or "manifests" in doc:
        for child in doc.get("manifests", []):
            yield {**child, "mediaType": child.get("mediaType", "application/vnd.oci.image.manifest.v1+json")}
        return
    if isinstance(doc.get("config"), dict):
        yield {**doc["config"], "mediaType": "config"}
    for layer in doc.get("layers", []):
        yield {**layer, "mediaType": "layer"}


def seed_all(db: sqlite_utils.Database, addr: str, store: BlobStore, kit_id: str | None = None) -> SeedReport:
    """Push every imported image (or one kit's) to the registry at *addr*.

    Raises:
        RegistryError: the registry does not answer, or refuses a push.
    """
    seeder = Seeder(addr, store)
    try:
        if not seeder.ping():
            raise RegistryError(f"the registry at {addr} does not answer /v2/ (is stella registry serve running?)")
        for repo, digest, tag, media_type in images_to_seed(db, kit_id):
            try:
                seeder.seed(repo, digest, media_type, tag)
            except httpx.HTTPError as exc:
                raise RegistryError(f"seeding {repo}@{digest} to {addr}: {exc}") from None
            db.execute("INSERT OR REPLACE INTO seeded (registry, repository, digest, seeded_at) VALUES (?, ?, ?, ?)",
                       [addr, repo, digest, format_time(now())])
        return seeder.report
    finally:
        seeder.close()
