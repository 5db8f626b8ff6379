"""Quarantine cannot fill the disk or lose the verdict (issue 17, principle 7): on ENOSPC the
partial copy is removed and the real verdict is reported; the same bad kit is not stored
twice; kept kits are capped (STELLA_QUARANTINE_MAX_BYTES) with the oldest evicted first."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kit import exitcodes
from kit.crypto import Signer
from tests.appliance.helpers import files_v1, kit, stella

STELLA = Path(sys.executable).parent / "stella"


def _bad(tmp_path: Path, name: str, signer: Signer, junk: int = 4096, seed: int = 1) -> Path:
    """A kit signed by the home's key with *junk* random bytes after its end (trailing-garbage)."""
    files = {**files_v1(), "attachments/n.txt": str(seed).encode()}
    path = kit(tmp_path / name, files, [signer], sequence=seed).path
    with open(path, "ab") as fh:
        fh.write(os.urandom(junk))
    return path


def _folders(home: Path) -> list[Path]:
    return sorted(p for p in (home / "quarantine").iterdir())


def test_the_same_bad_kit_is_not_stored_twice(tmp_path: Path, home: Path, signer: Signer) -> None:
    bad = _bad(tmp_path, "bad.stella-kit", signer)
    first = stella("import", str(bad), home=home)
    assert first.exit_code == exitcodes.REFUSED and "trailing-garbage" in first.output
    assert "kit quarantined in" in first.output
    again = stella("import", str(bad), home=home)
    assert again.exit_code == exitcodes.REFUSED and "trailing-garbage" in again.output
    assert "kit already quarantined in" in again.output
    assert len(_folders(home)) == 1
    report = json.loads((_folders(home)[0] / "report.json").read_text())
    assert report["kitSize"] == bad.stat().st_size and report["kitKept"] is True


def test_kept_kits_are_capped_oldest_evicted_first(tmp_path: Path, home: Path, signer: Signer,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    one = _bad(tmp_path, "one.stella-kit", signer, junk=40_000, seed=1)
    two = _bad(tmp_path, "two.stella-kit", signer, junk=40_000, seed=2)
    monkeypatch.setenv("STELLA_QUARANTINE_MAX_BYTES", str(one.stat().st_size + two.stat().st_size // 2))
    assert stella("import", str(one), home=home).exit_code == exitcodes.REFUSED
    result = stella("import", str(two), home=home)
    assert result.exit_code == exitcodes.REFUSED and "kit quarantined in" in result.output
    first, second = _folders(home)
    assert not (first / "one.stella-kit").exists() and (first / "EVICTED").is_file()
    assert (first / "report.json").is_file()                     # the report of the evicted kit stays
    assert (second / "two.stella-kit").read_bytes() == two.read_bytes()
    kept = sum(p.stat().st_size for f in _folders(home) for p in f.iterdir() if p.suffix == ".stella-kit")
    assert kept <= int(os.environ["STELLA_QUARANTINE_MAX_BYTES"])


def test_a_kit_over_the_cap_keeps_only_its_report(tmp_path: Path, home: Path, signer: Signer,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    bad = _bad(tmp_path, "big.stella-kit", signer, junk=100_000)
    monkeypatch.setenv("STELLA_QUARANTINE_MAX_BYTES", "50000")
    result = stella("import", str(bad), home=home)
    assert result.exit_code == exitcodes.REFUSED and "trailing-garbage" in result.output
    assert "the kit itself was not kept" in result.output and "STELLA_QUARANTINE_MAX_BYTES" in result.output
    (folder,) = _folders(home)
    assert [p.name for p in folder.iterdir()] == ["report.json"]


SCRIPT = r'''
set -e
mount -t tmpfs -o size=$3 tmpfs "$1"
"$STELLA" init --home "$1/home" --trust "$2" --registry-addr 127.0.0.1:9 --no-tls-cert > /dev/null
set +e
"$STELLA" import "$4" --home "$1/home" --no-seed
echo "exit=$?" >&2
ls -A "$1/home/quarantine" >&2
df -k "$1" | tail -1 >&2
'''


def test_a_full_disk_removes_the_partial_copy_and_keeps_the_verdict(tmp_path: Path, trust_file: Path,
                                                                    signer: Signer) -> None:
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is needed to mount a small tmpfs without privileges")
    bad = _bad(tmp_path, "bad.stella-kit", signer, junk=6 << 20)      # 6 MiB after the end
    mnt = tmp_path / "small"
    mnt.mkdir()
    done = subprocess.run(["unshare", "-rm", "sh", "-c", SCRIPT, "sh", str(mnt), str(trust_file), "3m", str(bad)],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "STELLA": str(STELLA)})
    if "mount" in done.stderr and "exit=" not in done.stderr:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    lines = done.stderr.splitlines()
    assert "exit=1" in lines, done.stderr
    (refusal,) = [ln for ln in lines if ln.startswith("stella import: error:")]
    assert "trailing-garbage" in refusal and "kit not quarantined (No space left on device" in refusal
    listing = lines[lines.index("exit=1") + 1:-1]
    assert listing == [], f"a partial quarantine entry was left: {listing}"
