"""Realistic site kits for orchestration tests: a release document per the release
schema, CycloneDX SBOMs, normalized advisories (records.ndjson + sources.json), OpenVEX
and optionally a policy pack — written with kit.format.write_kit."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

from kit.canonical import dumps
from kit.crypto import Signer
from kit.findings.osv import parse_osv
from kit.format.writer import WriteResult
from tests.appliance.helpers import kit

HIGH = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N"       # 9.1 critical
MEDIUM = "CVSS:3.1/AV:N/AC:H/PR:L/UI:R/S:U/C:L/I:L/A:N"     # medium


def _hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def osv(ident: str, name: str, fixed: str | None, vector: str = HIGH, modified: str = "2026-01-01T00:00:00Z",
        aliases: tuple[str, ...] = ()) -> dict[str, Any]:
    events = [{"introduced": "0"}] + ([{"fixed": fixed}] if fixed else [])
    return {"id": ident, "modified": modified, "aliases": list(aliases), "summary": f"{ident} in {name}",
            "severity": [{"type": "CVSS_V3", "score": vector}],
            "affected": [{"package": {"ecosystem": "PyPI", "name": name},
                          "ranges": [{"type": "ECOSYSTEM", "events": events}]}]}


def records_ndjson(docs: list[dict[str, Any]], source: str = "pypa") -> bytes:
    recs = sorted((parse_osv(d, source).to_dict() for d in docs), key=lambda r: r["id"])
    return b"".join(dumps(r) + b"\n" for r in recs)


def sources_json(count: int, snapshot: str, source: str = "pypa") -> bytes:
    return dumps({"format": "stella.advisory-sources/v1", "records": count, "merges": [], "sources": [
        {"name": source, "snapshot": snapshot, "snapshot_from": "kit.yaml", "priority": 0, "path": "osv",
         "records": count, "files": [], "skipped": []}]})


def sbom(name: str, packages: list[tuple[str, str]]) -> bytes:
    return json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
                       "metadata": {"component": {"type": "container", "name": name, "bom-ref": name}},
                       "components": [{"type": "library", "name": p, "version": v, "purl": f"pkg:pypi/{p}@{v}",
                                       "bom-ref": f"pkg:pypi/{p}@{v}"} for p, v in packages]}).encode()


def release_files(name: str, version: str, packages: list[tuple[str, str]], *,
                  with_sbom: bool = True) -> dict[str, bytes]:
    manifest = "sha256:" + _hex(f"{name}{version}manifest")
    sbom_path = f"sboms/{manifest[7:]}.cdx.json"
    doc = {"_type": "stella/release", "name": name, "version": version, "created": "2026-01-01T00:00:00Z",
           "compose": None, "components": [{
               "service": "web", "reference": f"registry.example/{name}:{version}", "image": f"registry.example/{name}",
               "tag": version, "digest": manifest, "mediaType": "application/vnd.oci.image.manifest.v1+json",
               "sourceDigest": manifest, "filtered": False,
               "manifests": [{"digest": manifest, "platform": "linux/amd64",
                              "config": "sha256:" + _hex("cfg" + version),
                              "sboms": {"cyclonedx": sbom_path, "spdx": sbom_path.replace(".cdx.", ".spdx.")}
                              if with_sbom else None}]}]}
    files = {f"releases/{name}/{version}.json": dumps(doc)}
    if with_sbom:
        files[sbom_path] = sbom(f"{name}:{version}", packages)
    return files


def openvex(statements: list[tuple[str, str, str]]) -> bytes:
    return json.dumps({"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://site.example/vex/1",
                       "author": "site security", "timestamp": "2026-01-01T00:00:00Z", "version": 1,
                       "statements": [{"vulnerability": {"name": v}, "products": [{"@id": p}], "status": s,
                                       "justification": "vulnerable_code_not_present" if s == "not_affected" else None}
                                      for v, p, s in statements]}).encode()


MEDIA = {"advisories/records.ndjson": "application/vnd.stella.advisories+ndjson",
         "advisories/sources.json": "application/vnd.stella.advisory-sources+json",
         "releases": "application/vnd.stella.release+json"}


def site_kit(out: Path, signers: list[Signer], *, sequence: int, advisories: list[dict[str, Any]],
             snapshot: str, releases: dict[str, bytes] | None = None, vex: bytes | None = None,
             policy: dict[str, bytes] | None = None, created: dt.datetime | None = None) -> WriteResult:
    files = dict(releases or {})
    files["advisories/records.ndjson"] = records_ndjson(advisories)
    files["advisories/sources.json"] = sources_json(len(advisories), snapshot)
    if vex is not None:
        files["vex/site.openvex.json"] = vex
    for path, data in (policy or {}).items():
        files[f"policy/{path}"] = data
    extra = {"created": created} if created else {}
    return kit(out, files, signers, sequence=sequence, media=MEDIA, **extra)
