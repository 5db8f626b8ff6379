"""The appliance defends its own files (issue 17, principle 5): a lost or truncated
stella.db is refused, never re-created; deleting audit rows is detected through the head
anchored outside the database; read-only commands work on a read-only file system and
writes there fail as io-error (exit 4) naming the path."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from kit import exitcodes
from kit.crypto import Signer
from tests.appliance.helpers import files_v1, kit, stella

STELLA = Path(sys.executable).parent / "stella"


@pytest.fixture()
def busy_home(tmp_path: Path, home: Path, signer: Signer) -> Path:
    for seq in (1, 2):
        files = {**files_v1(), "attachments/s.txt": str(seq).encode()}
        assert stella("import", str(kit(tmp_path / f"v{seq}.kit", files, [signer], sequence=seq).path),
                      home=home).exit_code == 0
    return home     # events: init, trust.init, 2 imports = 4


def _sql(home: Path, sql: str) -> None:
    conn = sqlite3.connect(home / "stella.db")
    conn.execute(sql)
    conn.commit()
    conn.close()


@pytest.mark.parametrize("damage", ["empty", "truncated", "missing", "fresh-sqlite"])
@pytest.mark.parametrize("command", [["kits"], ["audit", "verify"], ["status"], ["env", "list"]])
def test_a_lost_or_truncated_database_is_refused_not_re_created(busy_home: Path, damage: str,
                                                                command: list[str]) -> None:
    db = busy_home / "stella.db"
    data = db.read_bytes()
    if damage == "empty":
        db.write_bytes(b"")
    elif damage == "truncated":
        db.write_bytes(data[: len(data) // 3])
    elif damage == "missing":
        db.unlink()
    else:
        db.unlink()
        sqlite3.connect(db).execute("CREATE TABLE t (x)").connection.commit()
    before = db.read_bytes() if db.exists() else None
    result = stella(*command, home=busy_home)
    assert result.exit_code == exitcodes.IO_ERROR, result.output
    assert "damaged-home" in result.output and str(db) in result.output
    assert "internal" not in result.output and "no kits imported yet" not in result.output
    assert (db.read_bytes() if db.exists() else None) == before      # nothing re-created or migrated


def test_an_import_into_a_home_with_an_emptied_database_is_refused(busy_home: Path, tmp_path: Path,
                                                                   signer: Signer) -> None:
    (busy_home / "stella.db").write_bytes(b"")
    k = kit(tmp_path / "v3.kit", {**files_v1(), "attachments/s.txt": b"3"}, [signer], sequence=3)
    result = stella("import", str(k.path), home=busy_home)
    assert result.exit_code == exitcodes.IO_ERROR and "damaged-home" in result.output
    assert (busy_home / "stella.db").read_bytes() == b""


def _verify(home: Path) -> tuple[int, dict[str, object]]:
    result = stella("audit", "verify", "--json", home=home)
    return result.exit_code, json.loads(result.output)


def test_deleting_every_audit_row_is_detected(busy_home: Path) -> None:
    assert _verify(busy_home)[0] == 0
    _sql(busy_home, "DELETE FROM audit_events")
    code, doc = _verify(busy_home)
    assert code == exitcodes.REFUSED and not doc["ok"]
    assert [(p["kind"], p["seq"]) for p in doc["problems"]] == [("truncated", 4)]      # type: ignore[index]
    text = stella("audit", "verify", home=busy_home).output
    assert "intact" not in text and "audit.head anchors event 4, but the log is empty" in text


def test_deleting_the_newest_audit_rows_is_detected(busy_home: Path) -> None:
    _sql(busy_home, "DELETE FROM audit_events WHERE seq >= 3")
    code, doc = _verify(busy_home)
    assert code == exitcodes.REFUSED
    assert doc["problems"][0]["kind"] == "truncated" and "ends at event 2" in doc["problems"][0]["message"]  # type: ignore[index]


def test_the_import_records_anchor_the_chain_even_without_the_head_file(busy_home: Path) -> None:
    (busy_home / "audit.head").unlink()
    _sql(busy_home, "DELETE FROM audit_events WHERE seq >= 3")
    code, doc = _verify(busy_home)
    assert code == exitcodes.REFUSED
    assert "records/" in doc["problems"][0]["message"]      # type: ignore[index]


def test_a_consistently_rewritten_log_is_detected(busy_home: Path) -> None:
    """Hashes are not keyed: a rewrite recomputing every hash passes the chain walk, not the anchors."""
    from appliance import audit
    conn = sqlite3.connect(busy_home / "stella.db")
    rows = conn.execute("SELECT seq, time, actor, action, details FROM audit_events ORDER BY seq").fetchall()
    prev = audit.GENESIS
    for seq, time, actor, action, details in rows:
        actor = "mallory" if seq == 3 else actor
        digest = audit.event_hash(seq, time, actor, action, details, prev)
        conn.execute("UPDATE audit_events SET actor = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                     (actor, prev, digest, seq))
        prev = digest
    conn.commit()
    conn.close()
    code, doc = _verify(busy_home)
    assert code == exitcodes.REFUSED and doc["problems"][0]["kind"] == "rewritten"   # type: ignore[index]


def _read_only(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is needed to mount the home read-only without privileges")
    script = ('mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" "$1" && shift && exec "$@"')
    return subprocess.run(["unshare", "-rm", "sh", "-c", script, "sh", str(home), str(STELLA), *args,
                           "--home", str(home)], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command", [["kits"], ["status"], ["audit", "verify"], ["trust", "show"]])
def test_read_only_commands_work_on_a_read_only_file_system(busy_home: Path, command: list[str]) -> None:
    done = _read_only(busy_home, *command)
    if "mount" in done.stderr and done.returncode != 0 and "stella" not in done.stderr:
        pytest.skip(f"cannot mount read-only here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    assert "internal" not in done.stderr


@pytest.mark.parametrize("command", [["env", "create", "qa", "--order", "5", "--as", "root"],
                                     ["user", "add", "zed", "--role", "auditor", "--as", "root"]])
def test_writes_on_a_read_only_file_system_are_io_errors_naming_the_path(busy_home: Path,
                                                                         command: list[str]) -> None:
    done = _read_only(busy_home, *command)
    assert done.returncode == exitcodes.IO_ERROR, done.stderr
    assert done.stderr.count("\n") == 1
    assert "io-error" in done.stderr and str(busy_home / "stella.db") in done.stderr
    assert "read-only file system" in done.stderr and "internal" not in done.stderr


FULL = r'''
set -e
mount -t tmpfs -o size=3m tmpfs "$1"
"$STELLA" init --home "$1/home" --trust "$2" --registry-addr 127.0.0.1:9 --no-tls-cert > /dev/null
"$STELLA" kits --home "$1/home" > /dev/null
dd if=/dev/zero of="$1/fill" bs=64k 2>/dev/null || true
set +e
for c in "kits" "status" "audit verify" "trust show" "env create qa --order 3 --as root"; do
  "$STELLA" $c --home "$1/home" > /dev/null
  echo "[$c] exit=$?" >&2
done
'''


def test_a_full_file_system_reads_and_refuses_writes_naming_the_path(tmp_path: Path, trust_file: Path) -> None:
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is needed to mount a small tmpfs without privileges")
    mnt = tmp_path / "small"
    mnt.mkdir()
    done = subprocess.run(["unshare", "-rm", "sh", "-c", FULL, "sh", str(mnt), str(trust_file)],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "STELLA": str(STELLA)})
    if "exit=" not in done.stderr:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    for command in ("kits", "status", "audit verify", "trust show"):
        assert f"[{command}] exit=0" in done.stderr, done.stderr
    assert "[env create qa --order 3 --as root] exit=4" in done.stderr
    (line,) = [ln for ln in done.stderr.splitlines() if ln.startswith("stella env: error:")]
    assert "io-error" in line and "stella.db" in line and "no space left" in line
