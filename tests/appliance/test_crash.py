"""kill -9 an import at 20 points: the appliance is exactly before or after, and the next import works.

``STELLA_TEST_PAUSE_AT`` (appliance/testhooks.py) stops the import subprocess at a named
point: under the lock, with staging created, after each staged blob, with the record
written, inside the open transaction, after the commit, after each rename into the
content store and after the record moved. Recovery is what any next command runs.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from kit.crypto import Signer
from tests.appliance.helpers import files_v1, kit, stella, stella_proc

NEW_BLOBS = 8
TABLES = ("kit_entries", "releases", "sboms", "components", "advisories", "vex_statements", "policy_packs", "images")


def _state(home: Path) -> dict[str, Any]:
    """Everything that must be before-or-after, minus times and random import ids."""
    conn = sqlite3.connect(home / "stella.db")
    try:
        out: dict[str, Any] = {t: sorted(conn.execute(f"SELECT * FROM {t}")) for t in TABLES}
        out["kits"] = sorted(conn.execute("SELECT kit_id, sequence, actor FROM kits"))
        out["blobs"] = sorted(conn.execute("SELECT sha256, size, first_kit_id FROM blobs"))
        out["audit"] = [r[0] for r in conn.execute("SELECT action FROM audit_events ORDER BY seq")]
        out["records"] = conn.execute("SELECT count(*) FROM import_records").fetchone()[0]
    finally:
        conn.close()
    out["blob_files"] = sorted(p.name for p in (home / "blobs/sha256").iterdir())
    out["record_files"] = len(list((home / "records").iterdir()))
    out["staging"] = sorted(p.name for p in (home / "staging").iterdir())
    out["quarantine"] = sorted(p.name for p in (home / "quarantine").iterdir())
    return out


def _points() -> list[str]:
    every = (["locked", "staging"] + [f"staged:{i}" for i in range(1, NEW_BLOBS + 1)]
             + ["record-written", "in-transaction", "committed"]
             + [f"renamed:{i}" for i in range(1, NEW_BLOBS + 1)] + ["moved"])
    return sorted(random.Random(4).sample(every, 20), key=every.index)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory, signer: Signer, root: Any) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("crash")
    trust = work / "trust.json"
    trust.write_bytes(root.envelope.to_bytes())
    template = work / "template"
    assert stella("init", "--trust", str(trust), "--registry-addr", "127.0.0.1:9", home=template).exit_code == 0
    v1 = kit(work / "v1.kit", files_v1(), [signer])
    assert stella("import", str(v1.path), home=template).exit_code == 0
    extra = {f"attachments/new-{i}.bin": os.urandom(50_000 + i) for i in range(NEW_BLOBS)}
    v2 = kit(work / "v2.kit", {**files_v1(), **extra}, [signer], sequence=2)
    before = _state(template)
    after_home = work / "after"
    shutil.copytree(template, after_home)
    assert stella("import", str(v2.path), home=after_home).exit_code == 0
    after = _state(after_home)
    assert len(after["blob_files"]) == len(before["blob_files"]) + NEW_BLOBS
    return {"work": work, "template": template, "kit": v2.path, "before": before, "after": after}


@pytest.mark.parametrize("point", _points())
def test_kill_at_point(prepared: dict[str, Any], point: str) -> None:
    home = prepared["work"] / f"h-{point.replace(':', '-')}"
    shutil.copytree(prepared["template"], home)
    proc = stella_proc("import", str(prepared["kit"]), home=home, env={"STELLA_TEST_PAUSE_AT": point})
    assert proc.stderr is not None
    line = proc.stderr.readline()
    try:
        assert line.strip() == f"stella-test-pause: {point}", line + proc.stderr.read()
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
        proc.stdout.close()  # type: ignore[union-attr]
    assert stella("status", home=home).exit_code == 0          # any command recovers
    state = _state(home)
    committed = point in ("committed", "moved") or point.startswith("renamed:")
    assert state == (prepared["after"] if committed else prepared["before"])
    result = stella("import", str(prepared["kit"]), home=home)
    assert result.exit_code == 0, result.output
    assert ("already imported" in result.output) == committed
    assert _state(home) == prepared["after"]
    assert stella("audit", "verify", home=home).exit_code == 0
    shutil.rmtree(home)
