"""``POST /api/v1/kits/plan`` on a real ``stella serve``: what ``stella plan --json`` gives, nothing imported."""

from __future__ import annotations

from pathlib import Path

from kit.crypto import Signer
from tests.appliance.promotions.conftest import ADVISORIES, SNAPSHOT, VEX
from tests.appliance.promotions.kits import osv, site_kit
from tests.appliance.web.conftest import Service


def test_plan_over_the_api_answers_like_the_cli_and_imports_nothing(service: Service, signer: Signer,
                                                                    tmp_path: Path) -> None:
    admin = service.login("admin")
    kit2 = tmp_path / "site-2.stella-kit"
    newer = [*ADVISORIES, osv("PYSEC-2026-9", "flask", "3.0.1", modified="2026-02-01T00:00:00Z")]
    site_kit(kit2, [signer], sequence=2, advisories=newer, snapshot=SNAPSHOT, vex=VEX)
    kits_before = admin.get("/api/v1/kits").json()["kits"]
    r = admin.post("/api/v1/kits/plan", params={"filename": kit2.name}, content=kit2.read_bytes(),
                   headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["status"] == "would-import" and doc["kit"] == kit2.name and doc["exitCode"] == 0
    assert doc["diff"]["advisories"]["added"] == ["PYSEC-2026-9"] and doc["promotions"] == []
    assert admin.get("/api/v1/kits").json()["kits"] == kits_before
    assert not any((service.home / "uploads").iterdir())
    tampered = bytearray(kit2.read_bytes())
    tampered[len(tampered) // 2] ^= 0xFF
    r = admin.post("/api/v1/kits/plan", content=bytes(tampered))
    assert r.status_code == 422 and r.json()["error"]["kind"] in ("corrupt", "digest-mismatch"), r.text
    assert not any((service.home / "quarantine").iterdir()) and not any((service.home / "uploads").iterdir())
    r = service.login("alice").post("/api/v1/kits/plan", content=kit2.read_bytes())
    assert r.status_code == 403, r.text
