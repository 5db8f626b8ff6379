"""Cheap checks first (issue 17, principle 9): ``stella import`` verifies the manifest's
signatures before it parses the index, so a huge manifest signed by nobody it trusts is
refused as fast as ``stella-verify kit`` refuses it, without per-entry work."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from kit import dsse
from kit.crypto import Signer, generate
from kit.format import manifest as manifest_module
from kit.format.manifest import KIT_MANIFEST_TYPE
from tests.appliance.helpers import files_v1, kit, snapshot, stella
from tests.kit.craft import RawKit, entry_for, manifest_for

ENTRIES = 100_000


def _huge_kit(path: Path, signers: list[Signer]) -> Path:
    entries = [entry_for(f"attachments/{i:07d}.txt", b"") for i in range(ENTRIES)]
    manifest = manifest_for(entries, sequence=7)
    return RawKit(manifest, dsse.sign(KIT_MANIFEST_TYPE, manifest.to_bytes(), signers)).write(path)


@pytest.mark.parametrize("who", ["stranger", "nobody"])
def test_a_huge_untrusted_manifest_is_refused_before_its_index_is_parsed(
        tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch, who: str) -> None:
    path = _huge_kit(tmp_path / "huge.stella-kit", [generate()] if who == "stranger" else [])
    before = snapshot(home)
    parsed: list[int] = []
    real = manifest_module.Manifest.from_payload.__func__  # type: ignore[attr-defined]

    def counting(cls: Any, payload: Any, *args: Any, **kw: Any) -> Any:
        parsed.append(len(payload.get("entries", [])) if isinstance(payload, dict) else 0)
        return real(cls, payload, *args, **kw)

    monkeypatch.setattr(manifest_module.Manifest, "from_payload", classmethod(counting))
    started = time.monotonic()
    result = stella("import", str(path), home=home)
    elapsed = time.monotonic() - started
    assert result.exit_code == 1, result.output
    assert ("untrusted-key" if who == "stranger" else "unsigned") in result.output
    assert parsed == [], "the index was parsed before the signatures were checked"
    assert elapsed < 10
    quarantined = {p for p in snapshot(home) if "quarantine" in str(p)}
    assert {p for p in snapshot(home) if p not in quarantined} == {p for p in before if p not in quarantined}


def test_an_imported_kit_is_still_already_imported(tmp_path: Path, home: Path,
                                                  signer: Signer) -> None:
    """Signatures first must not turn "already imported, nothing to do" (exit 0) into a refusal."""
    built = kit(tmp_path / "v1.stella-kit", files_v1(), [signer], sequence=1)
    assert stella("import", str(built.path), home=home).exit_code == 0
    again = stella("import", str(built.path), home=home)
    assert again.exit_code == 0 and "already imported" in again.output
