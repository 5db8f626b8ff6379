"""Import: commits, idempotence, dedupe, records, dry run."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from kit.crypto import Signer, load_public_key_file
from kit.evidence.import_record import verify_import_record
from tests.appliance.helpers import files_v1, kit, snapshot, stella


def _count(home: Path, sql: str) -> int:
    conn = sqlite3.connect(home / "stella.db")
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def test_import_commits_everything(tmp_path: Path, home: Path, signer: Signer) -> None:
    k = kit(tmp_path / "v1.stella-kit", files_v1(), [signer])
    result = stella("import", str(k.path), "--json", home=home)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["status"] == "imported" and out["kitId"] == k.manifest.kit_id
    distinct = {e.sha256 for e in k.manifest.entries}
    assert out["newBlobs"] == len(distinct) == len(k.manifest.entries) - 1   # notes.txt == copy.txt
    assert {p.name for p in (home / "blobs/sha256").iterdir()} == distinct
    assert not any((home / "staging").iterdir())
    assert _count(home, "SELECT count(*) FROM kit_entries") == len(k.manifest.entries)
    assert _count(home, "SELECT count(*) FROM advisories") == 2
    assert _count(home, "SELECT count(*) FROM components WHERE purl = 'pkg:pypi/requests@2.31.0'") == 1
    assert _count(home, "SELECT count(*) FROM vex_statements WHERE status = 'not_affected'") == 1
    assert _count(home, "SELECT count(*) FROM releases WHERE name = 'web' AND version = '1.2.3'") == 1
    assert _count(home, "SELECT count(*) FROM policy_packs") == 1


def test_import_record_is_signed_and_complete(tmp_path: Path, home: Path, signer: Signer) -> None:
    k = kit(tmp_path / "v1.stella-kit", files_v1(), [signer])
    out = json.loads(stella("import", str(k.path), "--json", home=home, env={"STELLA_ACTOR": "alice"}).output)
    assert stella("key", "export", "--out", str(tmp_path / "appliance.pub.json"), home=home).exit_code == 0
    key = load_public_key_file(tmp_path / "appliance.pub.json")
    payload = verify_import_record(Path(out["record"]).read_bytes(), key)
    assert payload["actor"] == "alice" and payload["kit"]["kitId"] == k.manifest.kit_id
    assert payload["kit"]["sequence"] == 1 and payload["trustRoot"]["version"] == 1
    names = {c["check"] for c in payload["checks"]}
    assert {"signatures", "entries", "expiry", "freshness", "trust-root"} <= names
    assert all(c["ok"] for c in payload["checks"])


def test_reimport_is_a_noop_that_says_so(tmp_path: Path, home: Path, signer: Signer) -> None:
    k = kit(tmp_path / "v1.stella-kit", files_v1(), [signer])
    assert stella("import", str(k.path), home=home).exit_code == 0
    before = snapshot(home)
    again = stella("import", str(k.path), home=home)
    assert again.exit_code == 0 and "already imported" in again.output
    assert snapshot(home) == before


def test_blobs_from_another_kit_are_not_written_again(tmp_path: Path, home: Path, signer: Signer) -> None:
    k1 = kit(tmp_path / "v1.stella-kit", files_v1(), [signer])
    assert stella("import", str(k1.path), home=home).exit_code == 0
    notes = home / "blobs/sha256" / next(e.sha256 for e in k1.manifest.entries if e.path == "attachments/notes.txt")
    inode = notes.stat().st_ino
    files = {**files_v1(), "attachments/new.txt": b"new\n"}
    k2 = kit(tmp_path / "v2.stella-kit", files, [signer], sequence=2)
    out = json.loads(stella("import", str(k2.path), "--json", home=home).output)
    assert out["newBlobs"] == 1 and out["bytesWritten"] == 4
    assert notes.stat().st_ino == inode


def test_dry_run_changes_nothing(tmp_path: Path, home: Path, signer: Signer) -> None:
    k = kit(tmp_path / "v1.stella-kit", files_v1(), [signer])
    before = snapshot(home)
    result = stella("import", str(k.path), "--dry-run", home=home)
    assert result.exit_code == 0 and "dry run" in result.output
    assert snapshot(home) == before


def test_audit_event_per_import(tmp_path: Path, home: Path, signer: Signer) -> None:
    k = kit(tmp_path / "v1.stella-kit", files_v1(), [signer])
    stella("import", str(k.path), home=home, env={"STELLA_ACTOR": "bob"})
    log = json.loads(stella("audit", "log", "--json", home=home).output)
    last = log[-1]
    assert last["action"] == "kit.import" and last["actor"] == "bob"
    assert last["details"]["kitId"] == k.manifest.kit_id
    assert stella("audit", "verify", home=home).exit_code == 0
