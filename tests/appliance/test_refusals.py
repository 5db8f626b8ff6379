"""Refused imports change nothing (but quarantine/ for kits that fail verification)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path

from appliance import lock
from kit import exitcodes
from kit.crypto import Signer, generate
from tests.appliance.helpers import NOW, delta_of, files_v1, kit, snapshot, stella


def _without_quarantine(snap: dict) -> dict:
    return {"db": snap["db"], "files": {k: v for k, v in snap["files"].items() if not k.startswith("quarantine")}}



def test_older_than_active_is_refused_with_exit_5(tmp_path: Path, home: Path, signer: Signer) -> None:
    newer = kit(tmp_path / "v2.kit", files_v1(), [signer], sequence=2)
    assert stella("import", str(newer.path), home=home).exit_code == 0
    before = snapshot(home)
    for seq in (1, 2):
        files = {**files_v1(), "attachments/x.txt": str(seq).encode()}   # another kit, same or lower sequence
        old = kit(tmp_path / f"old{seq}.kit", files, [signer], sequence=seq)
        result = stella("import", str(old.path), home=home)
        assert result.exit_code == exitcodes.CONFLICT
        assert "older than active" in result.output
    assert snapshot(home) == before


def test_force_with_reason_is_audited(tmp_path: Path, home: Path, signer: Signer) -> None:
    stella("import", str(kit(tmp_path / "v2.kit", files_v1(), [signer], sequence=2).path), home=home)
    old = kit(tmp_path / "v1.kit", {**files_v1(), "attachments/x.txt": b"x"}, [signer], sequence=1)
    assert stella("import", str(old.path), "--force", home=home).exit_code == exitcodes.USAGE
    result = stella("import", str(old.path), "--force", "--reason", "roll back CVE fix", "--json", home=home)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["forced"] is True
    last = json.loads(stella("audit", "log", "--json", home=home).output)[-1]
    assert last["details"]["forced"] is True and last["details"]["reason"] == "roll back CVE fix"
    kits = json.loads(stella("kits", "--json", home=home).output)
    assert kits["channels"]["stable"] == 2      # the active sequence does not go backwards


def test_expired_kit_is_refused_and_quarantined(tmp_path: Path, home: Path, signer: Signer) -> None:
    k = kit(tmp_path / "old.kit", files_v1(), [signer], created=NOW - dt.timedelta(days=30),
            expires=NOW - dt.timedelta(days=1))
    before = snapshot(home)
    result = stella("import", str(k.path), home=home)
    assert result.exit_code == exitcodes.REFUSED and "expired" in result.output
    assert _without_quarantine(snapshot(home)) == _without_quarantine(before)
    [folder] = (home / "quarantine").iterdir()
    report = json.loads((folder / "report.json").read_text())
    assert report["error"]["kind"] == "expired" and (folder / "old.kit").is_file()
    assert k.path.exists()           # outside the home: copied, not moved


def test_tampered_kit_inside_home_is_moved_to_quarantine(tmp_path: Path, home: Path, signer: Signer) -> None:
    inbox = home / "inbox"
    inbox.mkdir()
    k = kit(inbox / "site.kit", files_v1(), [signer])
    data = bytearray(k.path.read_bytes())
    data[len(data) - 40] ^= 0x01
    k.path.write_bytes(bytes(data))
    before = snapshot(home)
    result = stella("import", str(k.path), home=home)
    assert result.exit_code in (exitcodes.REFUSED, exitcodes.MALFORMED), result.output
    assert "quarantined" in result.output and not k.path.exists()
    after, before = _without_quarantine(snapshot(home)), _without_quarantine(before)
    before["files"] = {p: h for p, h in before["files"].items() if not p.startswith("inbox/")}
    after["files"].pop("inbox/", None)
    assert after == before


def test_unknown_signer_is_refused(tmp_path: Path, home: Path) -> None:
    k = kit(tmp_path / "evil.kit", files_v1(), [generate("default")])
    before = snapshot(home)
    result = stella("import", str(k.path), home=home)
    assert result.exit_code == exitcodes.REFUSED
    assert _without_quarantine(snapshot(home)) == _without_quarantine(before)


def test_not_a_kit_is_malformed_and_not_kept(tmp_path: Path, home: Path) -> None:
    bogus = tmp_path / "bogus.kit"
    bogus.write_bytes(b"hello, not a kit" * 1000)
    before = snapshot(home)
    assert stella("import", str(bogus), home=home).exit_code == exitcodes.MALFORMED
    assert snapshot(home) == before          # a stray file is refused, not copied into quarantine/


def test_missing_file_is_io_error(tmp_path: Path, home: Path) -> None:
    before = snapshot(home)
    assert stella("import", str(tmp_path / "nope.kit"), home=home).exit_code == exitcodes.IO_ERROR
    assert snapshot(home) == before


def test_delta_without_base_is_refused(tmp_path: Path, home: Path, signer: Signer) -> None:
    base = kit(tmp_path / "base.kit", files_v1(), [signer])
    delta = delta_of(tmp_path / "delta.kit", base, {**files_v1(), "attachments/n.txt": b"n"}, [signer], 2)
    before = snapshot(home)
    result = stella("import", str(delta.path), home=home)
    assert result.exit_code == exitcodes.REFUSED and "base" in result.output
    assert snapshot(home) == before


def test_second_import_waits_or_fails_clearly(tmp_path: Path, home: Path, signer: Signer) -> None:
    k = kit(tmp_path / "v1.kit", files_v1(), [signer])
    held, release = threading.Event(), threading.Event()

    def holder() -> None:
        with lock.exclusive(home / "import.lock"):
            held.set()
            release.wait(10)

    t = threading.Thread(target=holder)
    t.start()
    held.wait(5)
    try:
        result = stella("import", str(k.path), "--wait", "0.3", home=home)
        assert result.exit_code == exitcodes.CONFLICT
        assert "another import is running" in result.output
    finally:
        release.set()
        t.join()
    threading.Timer(0.3, release.set).start()
    assert stella("import", str(k.path), "--wait", "5", home=home).exit_code == 0


def test_not_initialised_home(tmp_path: Path, signer: Signer) -> None:
    k = kit(tmp_path / "v1.kit", files_v1(), [signer])
    result = stella("import", str(k.path), home=tmp_path / "nowhere")
    assert result.exit_code == exitcodes.USAGE and "not an initialised" in result.output
