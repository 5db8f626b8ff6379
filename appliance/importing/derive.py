"""Rows for the content tables, derived from a kit's entries (carried and inherited).

Path prefixes say what an entry is (docs/kit-format.md): ``releases/``, ``sboms/``,
``advisories/<source>/``, ``vex/``, ``policy/``, ``oci/index.json`` and OCI blobs.
Small JSON documents are parsed to fill releases, components, VEX statements and
images; anything unreadable is still recorded by path and digest, never fatal: the
kit verified, so its bytes are what the signer meant, and the findings engine reports
unusable documents itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from appliance.importing.advisories import IndexRow, derive_advisories
from appliance.registry.names import repository_of
from kit import canonical
from kit.format.manifest import Entry

MAX_PARSE = 32 << 20          # documents larger than this are recorded, not parsed
MANIFEST_TYPES = {
    "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}

Locate = Callable[[str], Path]


@dataclass
class Derived:
    releases: list[dict[str, Any]] = field(default_factory=list)
    sboms: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    advisories: list[dict[str, Any]] = field(default_factory=list)
    vex_statements: list[dict[str, Any]] = field(default_factory=list)
    policy_packs: list[dict[str, Any]] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)
    advisory_snapshots: list[dict[str, Any]] = field(default_factory=list)
    advisory_index: list[IndexRow] = field(default_factory=list)      # upserted by importing.advisories.store

    def tables(self) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        for name in ("releases", "sboms", "components", "advisories", "vex_statements", "policy_packs", "images",
                     "advisory_snapshots"):
            yield name, getattr(self, name)


def _json(entry: Entry, locate: Locate) -> Any:
    if entry.size > MAX_PARSE:
        return None
    try:
        return json.loads(locate(entry.sha256).read_bytes())
    except (OSError, ValueError, RecursionError):    # unreadable, not JSON or too deep: not derived
        return None


def _release(kit_id: str, e: Entry, doc: Any) -> dict[str, Any]:
    doc = doc if isinstance(doc, dict) else {}
    name, version = doc.get("name"), doc.get("version")
    return {"kit_id": kit_id, "path": e.path, "sha256": e.sha256,
            "name": name if isinstance(name, str) else Path(e.path).stem,
            "version": version if isinstance(version, str) else None}


def _sbom(kit_id: str, e: Entry, doc: Any, out: Derived, seen: set[str]) -> None:
    doc = doc if isinstance(doc, dict) else {}
    fmt = "cyclonedx" if doc.get("bomFormat") == "CycloneDX" or "cyclonedx" in e.media_type else \
        "spdx3" if "spdx.org/rdf/3" in str(doc.get("@context", "")) else \
        "spdx" if "spdxVersion" in doc or "spdx" in e.media_type else "unknown"
    metadata = doc.get("metadata") if fmt == "cyclonedx" else None
    meta = metadata.get("component") if isinstance(metadata, dict) else None
    subject = meta.get("bom-ref") or meta.get("name") if isinstance(meta, dict) else None
    out.sboms.append({"kit_id": kit_id, "path": e.path, "sha256": e.sha256, "format": fmt,
                      "subject": subject if isinstance(subject, str) else None})
    if fmt != "cyclonedx" or e.sha256 in seen:
        return
    seen.add(e.sha256)        # components are per SBOM content, shared across kits
    listed = doc.get("components")
    for comp in listed if isinstance(listed, list) else []:
        if isinstance(comp, dict) and isinstance(comp.get("name"), str):
            out.components.append({"sbom_sha256": e.sha256, "purl": _str(comp.get("purl")),
                                   "name": comp["name"], "version": _str(comp.get("version")),
                                   "type": _str(comp.get("type"))})


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _vex(kit_id: str, e: Entry, doc: Any) -> Iterator[dict[str, Any]]:
    statements = doc.get("statements") if isinstance(doc, dict) else None
    for st in statements if isinstance(statements, list) else []:
        if not isinstance(st, dict):
            continue
        vuln = st.get("vulnerability")
        vuln_name = vuln.get("name") if isinstance(vuln, dict) else vuln
        products = st.get("products") or [None]
        for prod in products if isinstance(products, list) else [None]:
            pid = prod.get("@id") if isinstance(prod, dict) else prod
            yield {"kit_id": kit_id, "path": e.path, "sha256": e.sha256, "vulnerability": _str(vuln_name),
                   "product": _str(pid), "status": _str(st.get("status")),
                   "justification": _str(st.get("justification"))}


def _advisory(kit_id: str, e: Entry, published: str) -> dict[str, Any]:
    parts = e.path.split("/")
    source = parts[1] if len(parts) > 2 else "default"
    return {"kit_id": kit_id, "path": e.path, "sha256": e.sha256, "source": source,
            "media_type": e.media_type, "size": e.size, "published": published}


def _images(kit_id: str, e: Entry, doc: Any, kit_name: str) -> Iterator[dict[str, Any]]:
    manifests = doc.get("manifests") if isinstance(doc, dict) else None
    for desc in manifests if isinstance(manifests, list) else []:
        if not isinstance(desc, dict) or not isinstance(desc.get("digest"), str):
            continue
        annotations = desc.get("annotations")
        notes = annotations if isinstance(annotations, dict) else {}
        repo, tag, name = repository_of(notes, kit_name)
        yield {"kit_id": kit_id, "repository": repo, "tag": tag, "digest": desc["digest"],
               "media_type": _str(desc.get("mediaType")) or "application/vnd.oci.image.manifest.v1+json",
               "name": name}


def derive(kit_id: str, kit_name: str, published: str, entries: Iterable[Entry], locate: Locate) -> Derived:
    out, policy = Derived(), []
    seen_sboms: set[str] = set()
    listed: set[str] = set()
    entries = sorted(entries, key=lambda e: e.path.encode("utf-8"))
    for e in entries:
        top = e.path.split("/")[0]
        if top == "releases":
            out.releases.append(_release(kit_id, e, _json(e, locate)))
        elif top == "sboms":
            _sbom(kit_id, e, _json(e, locate), out, seen_sboms)
        elif top == "advisories":
            out.advisories.append(_advisory(kit_id, e, published))
            derive_advisories(kit_id, e, locate, out)
        elif top == "vex":
            out.vex_statements.extend(_vex(kit_id, e, _json(e, locate)))
        elif top == "policy":
            policy.append([e.path, e.sha256])
        elif e.path == "oci/index.json":
            for row in _images(kit_id, e, _json(e, locate), kit_name):
                listed.add(row["digest"])
                out.images.append(row)
    _loose_manifests(kit_id, kit_name, entries, listed, out)
    if policy:
        out.policy_packs.append({"kit_id": kit_id, "digest": canonical.digest(policy),
                                 "entries": canonical.dumps(policy).decode()})
    return out


def _loose_manifests(kit_id: str, kit_name: str, entries: list[Entry], listed: set[str], out: Derived) -> None:
    """OCI manifests carried as blobs but not named by an oci/index.json: seed them by digest."""
    if listed:
        return
    repo = repository_of({}, kit_name)[0]
    for e in entries:
        if e.path.startswith("blobs/sha256/") and e.media_type in MANIFEST_TYPES:
            out.images.append({"kit_id": kit_id, "repository": repo, "tag": None,
                               "digest": f"sha256:{e.sha256}", "media_type": e.media_type, "name": None})
