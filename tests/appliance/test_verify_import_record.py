"""`stella-verify import-record`: an auditor checks the appliance's signed import record."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from kit import canonical, dsse
from kit.crypto import Signer
from tests.appliance.helpers import files_v1, kit, stella
from verifier.cli import cli as verifier


def _record(tmp_path: Path, home: Path, signer: Signer) -> tuple[Path, Path]:
    k = kit(tmp_path / "v1.stella-kit", files_v1(), [signer])
    out = json.loads(stella("import", str(k.path), "--json", home=home).output)
    assert stella("key", "export", "--out", str(tmp_path / "appliance.pub.json"), home=home).exit_code == 0
    return Path(out["record"]), tmp_path / "appliance.pub.json"


def test_a_genuine_record_verifies(tmp_path: Path, home: Path, signer: Signer) -> None:
    record, key = _record(tmp_path, home, signer)
    result = CliRunner().invoke(verifier, ["import-record", str(record), "--appliance-key", str(key), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["verified"] is True and doc["payload"]["kit"]["sequence"] == 1
    assert {c["check"] for c in doc["payload"]["checks"]} >= {"signatures", "entries"}


def test_an_edited_record_is_refused(tmp_path: Path, home: Path, signer: Signer) -> None:
    record, key = _record(tmp_path, home, signer)
    env = dsse.Envelope.from_bytes(record.read_bytes())
    payload = json.loads(env.payload)
    payload["actor"] = "mallory"
    forged = tmp_path / "forged.json"
    forged.write_bytes(dsse.Envelope(env.payload_type, canonical.dumps(payload), env.signatures).to_bytes())
    result = CliRunner().invoke(verifier, ["import-record", str(forged), "--appliance-key", str(key)])
    assert result.exit_code == 1 and "bad-signature" in result.output


def test_a_record_checked_with_another_key_is_refused(tmp_path: Path, home: Path, signer: Signer) -> None:
    record, _ = _record(tmp_path, home, signer)
    other = tmp_path / "other.pub.json"
    other.write_bytes(canonical.dumps(signer.public_key.to_dict()))
    result = CliRunner().invoke(verifier, ["import-record", str(record), "--appliance-key", str(other)])
    assert result.exit_code == 1 and "untrusted" in result.output


def test_not_a_record(tmp_path: Path, home: Path, signer: Signer) -> None:
    _, key = _record(tmp_path, home, signer)
    junk = tmp_path / "junk.json"
    junk.write_text("{}")
    result = CliRunner().invoke(verifier, ["import-record", str(junk), "--appliance-key", str(key)])
    assert result.exit_code == 3
