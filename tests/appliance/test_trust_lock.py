"""One lock for everything that changes trust (issue 17, principle 6): ``stella trust update``
during an import waits for it or is refused (exit 5), so a kit signed only by a key the new
root drops can never be committed after the update; the import re-checks the root at commit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from appliance import trust
from appliance.errors import TrustChanged
from appliance.home import Home
from appliance.importing import pipeline
from appliance.store.db import open_db
from kit import exitcodes
from kit.crypto import Signer, generate
from kit.timeutil import now
from tests.appliance.helpers import files_v1, kit, stella, stella_proc
from tests.kit.conftest import make_root


def _v2(tmp_path: Path, signer: Signer) -> Path:
    """A root version 2 that drops *signer* (signed by it, as a rotation must be)."""
    path = tmp_path / "v2.json"
    path.write_bytes(make_root([generate("default")], 1, version=2, extra_signers=[signer]).envelope.to_bytes())
    return path


def test_trust_update_during_an_import_is_refused_and_the_import_commits(tmp_path: Path, home: Path,
                                                                        signer: Signer) -> None:
    old_signed = kit(tmp_path / "old-key.stella-kit", files_v1(), [signer]).path
    proc = stella_proc("import", str(old_signed), home=home,
                       env={"STELLA_TEST_PAUSE_AT": "staging", "STELLA_TEST_PAUSE_SECONDS": "3"})
    try:
        assert proc.stderr is not None and proc.stderr.readline().strip() == "stella-test-pause: staging"
        update = stella("trust", "update", str(_v2(tmp_path, signer)), home=home)
        assert update.exit_code == exitcodes.CONFLICT, update.output
        assert "locked" in update.output and "import" in update.output
    finally:
        proc.wait(timeout=120)
    assert proc.returncode == 0           # verified and committed under the root it was checked against
    assert json.loads(stella("trust", "show", "--json", home=home).output)["version"] == 1
    # after the import, the update goes through, and the dropped key's kits are refused
    assert stella("trust", "update", str(_v2(tmp_path, signer)), home=home).exit_code == 0
    later = kit(tmp_path / "later.stella-kit", files_v1(), [signer], sequence=2).path
    assert stella("import", str(later), home=home).exit_code == exitcodes.REFUSED


def test_trust_update_waits_for_a_running_import(tmp_path: Path, home: Path, signer: Signer) -> None:
    old_signed = kit(tmp_path / "old-key.stella-kit", files_v1(), [signer]).path
    proc = stella_proc("import", str(old_signed), home=home,
                       env={"STELLA_TEST_PAUSE_AT": "staging", "STELLA_TEST_PAUSE_SECONDS": "2"})
    try:
        assert proc.stderr is not None and proc.stderr.readline().strip() == "stella-test-pause: staging"
        update = stella("trust", "update", str(_v2(tmp_path, signer)), "--wait", "60", home=home)
        assert update.exit_code == 0, update.output
    finally:
        proc.wait(timeout=120)
    assert proc.returncode == 0
    assert json.loads(stella("trust", "show", "--json", home=home).output)["version"] == 2


def test_an_import_whose_root_changed_before_commit_imports_nothing(tmp_path: Path, home: Path, signer: Signer,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The commit's own check: were the lock ever bypassed, the old root's kit is not committed."""
    old_signed = kit(tmp_path / "old-key.stella-kit", files_v1(), [signer]).path
    v2 = _v2(tmp_path, signer).read_bytes()
    real = pipeline._Import._same_kit

    def rotate_behind_the_lock(self, *args, **kw):  # type: ignore[no-untyped-def]
        real(self, *args, **kw)
        db = open_db(Home(home).db_path)
        try:
            trust._rotate(Home(home), db, v2, "mallory", now(), "v2.json")
        finally:
            db.close()

    monkeypatch.setattr(pipeline._Import, "_same_kit", rotate_behind_the_lock)
    with pytest.raises(TrustChanged, match="trust root changed from version 1 to 2"):
        pipeline.import_kit(Home(home), old_signed)
    assert stella("kits", "--json", home=home).output.count("kitId") == 0
    assert not list((home / "staging").glob("*"))
