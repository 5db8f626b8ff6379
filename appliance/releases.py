"""Releases as imported from kits: ``releases/<name>/<version>.json`` documents.

A release is named ``NAME@VERSION``. When several kits carry it, the newest import wins
(kits carrying the same name@version with different content are listed by ``release
show``). Its SBOMs are the CycloneDX entries its components' manifests name
(``sboms.cyclonedx``), read from the same kit; documents come from the content store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlite_utils

from appliance.errors import BadDocument, BadRelease
from appliance.home import Home
from appliance.promotions.errors import UnknownRelease
from appliance.store.blobs import BlobStore
from kit.canonical import CanonicalJSONError, loads

_ROWS = ("SELECT r.name, r.version, r.kit_id, r.path, r.sha256, k.name, k.sequence, k.created, k.imported_at "
         "FROM releases r JOIN kits k ON k.kit_id = r.kit_id WHERE r.path LIKE '%.json' AND r.version IS NOT NULL")


@dataclass(frozen=True)
class Release:
    name: str
    version: str
    kit_id: str
    path: str
    sha256: str
    kit_name: str
    kit_sequence: int
    kit_created: str
    imported_at: str

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"


def listing(db: sqlite_utils.Database) -> list[Release]:
    """Every name@version once (newest import), sorted."""
    seen: dict[tuple[str, str], Release] = {}
    for row in db.execute(_ROWS + " ORDER BY k.imported_at, k.rowid"):
        rel = Release(*row)
        seen[(rel.name, rel.version)] = rel
    return [seen[k] for k in sorted(seen)]


def parse_ref(ref: str) -> tuple[str, str | None]:
    name, _, version = ref.partition("@")
    if not name:
        raise UnknownRelease(f"bad release reference {ref!r} (use NAME@VERSION)")
    return name, version or None


def resolve(db: sqlite_utils.Database, ref: str) -> Release:
    """NAME@VERSION (or NAME: its newest imported version)."""
    name, version = parse_ref(ref)
    found = [r for r in listing(db) if r.name == name and (version is None or r.version == version)]
    if not found:
        known = sorted({r.label for r in listing(db) if r.name == name})
        hint = f"; known: {', '.join(known)}" if known else "; stella release list shows what was imported"
        raise UnknownRelease(f"unknown release {ref}{hint}")
    return max(found, key=lambda r: r.imported_at) if version is None else found[0]


def carriers(db: sqlite_utils.Database, rel: Release) -> list[dict[str, Any]]:
    rows = db.execute(_ROWS + " AND r.name = ? AND r.version = ? ORDER BY k.imported_at", [rel.name, rel.version])
    return [{"kitId": r[2], "kit": r[5], "sequence": r[6], "sha256": r[4], "importedAt": r[8]} for r in rows]


def text_of(home: Home, sha256: str, what: str) -> str:
    try:
        return BlobStore(home.blobs).path(sha256).read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise BadDocument(f"{what} is not UTF-8 text", entry=what) from None


def document(home: Home, rel: Release) -> dict[str, Any]:
    try:
        doc = loads(text_of(home, rel.sha256, rel.path), allow_floats=True)
    except CanonicalJSONError as exc:
        raise BadRelease(f"{rel.path}: {exc}", entry=rel.path) from None
    if not isinstance(doc, dict):
        raise BadRelease(f"{rel.path}: not a release document", entry=rel.path)
    return doc


def sbom_paths(doc: dict[str, Any]) -> list[str]:
    paths = set()
    for comp in doc.get("components") or []:
        vendor = comp.get("vendorSbom") if isinstance(comp, dict) else None
        if isinstance(vendor, dict) and isinstance(vendor.get("path"), str):
            paths.add(vendor["path"])           # the vendor's SBOM, merged with ours in the findings
        for m in (comp.get("manifests") or []) if isinstance(comp, dict) else []:
            sboms = m.get("sboms") if isinstance(m, dict) else None
            if isinstance(sboms, dict) and isinstance(sboms.get("cyclonedx"), str):
                paths.add(sboms["cyclonedx"])
    return sorted(paths)


def sbom_entries(db: sqlite_utils.Database, rel: Release, doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(path, sha256) of each SBOM the release names that its kit carries: our CycloneDX
    one per image manifest, and any vendor SBOM (CycloneDX or SPDX 2)."""
    out = []
    for path in sbom_paths(doc):
        row = db.execute("SELECT sha256 FROM kit_entries WHERE kit_id = ? AND path = ?", [rel.kit_id, path]).fetchone()
        if row:
            out.append((path, row[0]))
    return out


def show(home: Home, db: sqlite_utils.Database, ref: str) -> tuple[Release, dict[str, Any]]:
    """A release as ``stella release show --json`` and ``GET /api/v1/releases/{ref}`` give it:
    its document (components pinned by digest), SBOM entries and the kits carrying it."""
    rel = resolve(db, ref)
    doc = document(home, rel)
    return rel, {"release": rel.label, "document": doc, "path": rel.path, "sha256": rel.sha256,
                 "sboms": [{"path": p, "sha256": s} for p, s in sbom_entries(db, rel, doc)],
                 "kits": carriers(db, rel)}


def to_dict(rel: Release) -> dict[str, Any]:
    """One line of ``stella release list --json``."""
    return {"release": rel.label, "name": rel.name, "version": rel.version, "kit": rel.kit_name,
            "sequence": rel.kit_sequence, "kitId": rel.kit_id, "sha256": rel.sha256, "importedAt": rel.imported_at}
