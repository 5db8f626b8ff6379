"""The audit chain names edited, deleted and reordered rows; trust rotation needs the old root."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from kit import exitcodes
from kit.crypto import Signer, generate
from tests.appliance.helpers import files_v1, kit, make_root, stella


@pytest.fixture()
def busy_home(tmp_path: Path, home: Path, signer: Signer) -> Path:
    for seq in (1, 2, 3):
        files = {**files_v1(), "attachments/s.txt": str(seq).encode()}
        k = kit(tmp_path / f"v{seq}.kit", files, [signer], sequence=seq)
        assert stella("import", str(k.path), home=home).exit_code == 0
    return home     # events: init, trust.init, 3 imports = 5


def _sql(home: Path, sql: str, *args: object) -> None:
    conn = sqlite3.connect(home / "stella.db")
    conn.execute(sql, args)
    conn.commit()
    conn.close()


def _problems(home: Path) -> list[dict[str, object]]:
    result = stella("audit", "verify", "--json", home=home)
    doc = json.loads(result.output)
    assert result.exit_code == (exitcodes.OK if doc["ok"] else exitcodes.REFUSED)
    return doc["problems"]


def test_intact_chain(busy_home: Path) -> None:
    assert _problems(busy_home) == []
    assert "intact: 5 events" in stella("audit", "verify", home=busy_home).output


def test_edited_row_is_named(busy_home: Path) -> None:
    _sql(busy_home, "UPDATE audit_events SET actor = 'mallory' WHERE seq = 3")
    assert [(p["seq"], p["kind"]) for p in _problems(busy_home)] == [(3, "edited")]


def test_deleted_row_is_named(busy_home: Path) -> None:
    _sql(busy_home, "DELETE FROM audit_events WHERE seq = 2")
    problems = _problems(busy_home)
    assert [(p["seq"], p["kind"]) for p in problems] == [(3, "deleted")]
    assert "event 2 is missing" in problems[0]["message"]


def test_deleted_and_renumbered_is_named(busy_home: Path) -> None:
    _sql(busy_home, "DELETE FROM audit_events WHERE seq = 2")
    for seq in (3, 4, 5):
        _sql(busy_home, "UPDATE audit_events SET seq = ? WHERE seq = ?", seq - 1, seq)
    kinds = {p["kind"] for p in _problems(busy_home)}
    assert kinds and kinds <= {"reordered", "edited", "deleted", "truncated"}   # audit.head anchors event 5


def test_reordered_rows_are_named(busy_home: Path) -> None:
    _sql(busy_home, "UPDATE audit_events SET seq = 100 WHERE seq = 3")
    _sql(busy_home, "UPDATE audit_events SET seq = 3 WHERE seq = 4")
    _sql(busy_home, "UPDATE audit_events SET seq = 4 WHERE seq = 100")
    problems = _problems(busy_home)
    assert {(p["seq"], p["kind"]) for p in problems} == {(3, "reordered"), (4, "reordered")}
    assert any("recorded as 4" in str(p["message"]) for p in problems)


def test_trust_update_accepted_when_signed_by_current(tmp_path: Path, home: Path, signer: Signer) -> None:
    new_key = generate("default")
    v2 = make_root([new_key], version=2, extra=[signer])
    path = tmp_path / "v2.json"
    path.write_bytes(v2.envelope.to_bytes())
    result = stella("trust", "update", str(path), home=home)
    assert result.exit_code == 0, result.output
    shown = json.loads(stella("trust", "show", "--json", home=home).output)
    assert shown["version"] == 2 and [h["version"] for h in shown["history"]] == [1, 2]
    assert (home / "trust/history/1.json").is_file() and (home / "trust/current.json").read_bytes() == path.read_bytes()
    # kits signed by the old key are now refused; by the new key accepted
    assert stella("import", str(kit(tmp_path / "a.kit", files_v1(), [signer]).path), home=home).exit_code == 1
    assert stella("import", str(kit(tmp_path / "b.kit", files_v1(), [new_key]).path), home=home).exit_code == 0
    assert json.loads(stella("audit", "log", "--json", home=home).output)[-2]["action"] == "trust.update"


def test_trust_update_refused_without_current_signature(tmp_path: Path, home: Path) -> None:
    rogue = generate("default")
    path = tmp_path / "rogue.json"
    path.write_bytes(make_root([rogue], version=2).envelope.to_bytes())
    result = stella("trust", "update", str(path), home=home)
    assert result.exit_code == exitcodes.REFUSED
    assert json.loads(stella("trust", "show", "--json", home=home).output)["version"] == 1


def test_init_twice_is_a_conflict(home: Path, trust_file: Path) -> None:
    result = stella("init", "--trust", str(trust_file), home=home)
    assert result.exit_code == exitcodes.CONFLICT and "already holds" in result.output


def test_status_and_kits(tmp_path: Path, home: Path, signer: Signer) -> None:
    stella("import", str(kit(tmp_path / "v1.kit", files_v1(), [signer]).path), home=home)
    doc = json.loads(stella("status", "--json", home=home).output)
    assert doc["lastImport"]["sequence"] == 1 and doc["advisories"][0]["source"] == "osv"
    assert doc["advisories"][0]["ageDays"] == 1 and doc["disk"]["blobs"] > 0
    assert "advisories osv" in stella("status", home=home).output
    assert "seq 1" in stella("kits", home=home).output


def test_updating_to_the_same_root_is_a_conflict(home: Path, trust_file: Path) -> None:
    result = stella("trust", "update", str(trust_file), home=home)
    assert result.exit_code == 5 and "already trusts version 1" in result.output
