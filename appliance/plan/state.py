"""What the appliance holds, as one side of a diff (before or after an import)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import IO

import sqlite_utils

from appliance.home import Home
from appliance.store.blobs import BlobStore
from kit import dsse
from kit.diff import KitView
from kit.diff.view import Opener, empty_manifest
from kit.format import Entry, KitLimits, Manifest


def store_opener(home: Home) -> Opener:
    """Open a blob of *home*'s content store by digest (None when it is not there)."""
    store = BlobStore(home.blobs)

    def open_blob(sha256: str) -> IO[bytes] | None:
        try:
            return open(store.path(sha256), "rb")
        except (OSError, ValueError):
            return None
    return open_blob


def _manifest(text: str) -> Manifest:
    return Manifest.from_payload(json.loads(text), KitLimits(), "stored manifest")


def kit_view(home: Home, db: sqlite_utils.Database, kit_id: str, label: str) -> KitView:
    """An imported kit (every entry, carried or inherited, opened from the content store)."""
    manifest, envelope, size = db.execute("SELECT manifest, envelope, file_size FROM kits WHERE kit_id = ?",
                                          [kit_id]).fetchone()
    signed = tuple(sorted(s.keyid for s in dsse.Envelope.from_bytes(bytes(envelope), "stored envelope").signatures))
    return KitView(manifest=_manifest(manifest), signed_by=signed, file_size=size, label=label,
                   fallback=store_opener(home))


def holdings(home: Home, db: sqlite_utils.Database, channel: str, label: str) -> KitView:
    """What the appliance holds, as one kit: every path of every imported kit (the newest
    import wins a path), with the policy pack of the newest kit that has one (the pack
    the gates use), signers and expiry of the newest kit on *channel*."""
    newest: dict[str, Entry] = {}
    for path, media, size, sha in db.execute(
            "SELECT e.path, e.media_type, e.size, e.sha256 FROM kit_entries e JOIN kits k ON k.kit_id = e.kit_id "
            "WHERE e.path NOT LIKE 'policy/%' ORDER BY k.imported_at, k.rowid, e.path"):
        newest[path] = Entry(path, media, size, sha)
    pack = db.execute("SELECT p.kit_id FROM policy_packs p JOIN kits k ON k.kit_id = p.kit_id "
                      "ORDER BY k.imported_at DESC, k.rowid DESC LIMIT 1").fetchone()
    if pack is not None:
        for path, media, size, sha in db.execute("SELECT path, media_type, size, sha256 FROM kit_entries "
                                                 "WHERE kit_id = ? AND path LIKE 'policy/%'", [pack[0]]):
            newest[path] = Entry(path, media, size, sha)
    row = db.execute("SELECT kit_id FROM kits WHERE channel = ? ORDER BY sequence DESC, rowid DESC LIMIT 1",
                     [channel]).fetchone()
    top = kit_view(home, db, row[0], label) if row else KitView(manifest=empty_manifest(channel), label=label)
    entries = tuple(sorted(newest.values(), key=lambda e: e.path.encode("utf-8")))
    top.manifest = replace(top.manifest, entries=entries, inherited=(), kind="full", base=None)
    top.fallback = store_opener(home)
    return top
