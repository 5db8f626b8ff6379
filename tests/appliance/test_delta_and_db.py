"""Base + delta gives the state of the full kit; migrations upgrade an older database."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from appliance.store import db as store_db
from kit.crypto import Signer
from tests.appliance.helpers import delta_of, files_v1, kit, stella

TABLES = ("releases", "sboms", "components", "advisories", "vex_statements", "policy_packs", "images")


def _state(home: Path, kit_id: str) -> dict[str, object]:
    conn = sqlite3.connect(home / "stella.db")
    try:
        out: dict[str, object] = {
            "entries": sorted(conn.execute("SELECT path, media_type, size, sha256 FROM kit_entries WHERE kit_id=?",
                                           [kit_id])),
            "blobs": sorted(conn.execute("SELECT sha256, size FROM blobs")),
            "files": sorted(p.name for p in (home / "blobs/sha256").iterdir())}
        for t in TABLES:
            cols = [r[1] for r in conn.execute(f"PRAGMA table_info({t})") if r[1] != "kit_id"]
            where = " WHERE kit_id = ?" if t != "components" else ""
            out[t] = sorted(conn.execute(f"SELECT {', '.join(cols)} FROM {t}{where}", [kit_id] if where else []))
        return out
    finally:
        conn.close()


def test_base_plus_delta_equals_full(tmp_path: Path, trust_file: Path, signer: Signer) -> None:
    v2_files = {**files_v1(), "attachments/more.txt": b"more\n" * 50,
                "advisories/osv/GHSA-1.json": b'{"id": "GHSA-1", "modified": "2026-02-01T00:00:00Z"}'}
    base = kit(tmp_path / "base.kit", files_v1(), [signer])
    delta = delta_of(tmp_path / "delta.kit", base, v2_files, [signer], 2)
    full = kit(tmp_path / "full.kit", v2_files, [signer], sequence=2)
    assert len(delta.manifest.entries) == 2 and delta.manifest.inherited
    a, b = tmp_path / "a", tmp_path / "b"
    for h in (a, b):
        assert stella("init", "--trust", str(trust_file), "--registry-addr", "127.0.0.1:9", home=h).exit_code == 0
    for k in (base, delta):
        assert stella("import", str(k.path), home=a).exit_code == 0
    assert stella("import", str(full.path), home=b).exit_code == 0
    state_a, state_b = _state(a, delta.manifest.kit_id), _state(b, full.manifest.kit_id)
    # the full kit brings only its own blobs; base + delta also hold the base's replaced advisory
    old = next(e.sha256 for e in base.manifest.entries if e.path == "advisories/osv/GHSA-1.json")
    for key in ("blobs", "files"):
        state_a[key] = [x for x in state_a[key] if (x[0] if isinstance(x, tuple) else x) != old]  # type: ignore[union-attr]
    assert state_a == state_b


def test_upgrade_from_an_older_migration_set(tmp_path: Path) -> None:
    path = tmp_path / "stella.db"
    old = store_db.open_db(path, upto=1)
    assert store_db.applied(old) == {1} and "images" not in old.table_names()
    old.execute("INSERT INTO trust_roots VALUES (1, 'sha256:x', '2030-01-01T00:00:00Z', 'now', 'me', x'00')")
    old.close()
    new = store_db.open_db(path)
    try:
        latest = max(m.version for m in store_db.migrations())
        assert store_db.applied(new) == set(range(1, latest + 1))
        assert {"images", "seeded"} <= set(new.table_names())
        assert new.execute("SELECT digest FROM trust_roots").fetchone()[0] == "sha256:x"
        assert new.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store_db.migrate(new) == []            # idempotent
    finally:
        new.close()


def test_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "stella.db"
    db = store_db.open_db(path)
    db.execute("INSERT INTO schema_migrations VALUES (9999, 'future', 'now')")
    db.close()
    try:
        store_db.open_db(path)
    except Exception as exc:       # noqa: BLE001 - the message is what matters
        assert "newer than this stella" in str(exc)
    else:
        raise AssertionError("a database from a newer stella was opened")
