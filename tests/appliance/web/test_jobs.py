"""Long work as jobs, against a real ``stella serve`` on 127.0.0.1 (httpx): kit upload and
import, a tampered kit, a job interrupted by kill -9 of the service, deploys and the 409 of
a second deploy to the same environment while one runs."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kit.crypto import Signer
from tests.appliance.deploy.conftest import Site, appliance_registry, site  # noqa: F401  (fixtures)
from tests.appliance.deploy.site import Rel, build_kit, free_port, web
from tests.appliance.helpers import kit
from tests.appliance.web.conftest import Service, site_home

TIMEOUT = 60.0


def _files(tag: str) -> dict[str, bytes]:
    return {"attachments/notes.txt": f"notes of {tag}\n".encode() * 50,
            "attachments/blob.bin": os.urandom(3 << 20),
            "advisories/osv/GHSA-UP-1.json": json.dumps({"id": f"GHSA-UP-{tag}",
                                                         "modified": "2026-01-01T00:00:00Z"}).encode()}


def _upload(client: httpx.Client, path: Path) -> httpx.Response:
    return client.post("/api/v1/kits", params={"filename": path.name}, content=path.read_bytes(),
                       headers={"Content-Type": "application/octet-stream"})


def _wait(client: httpx.Client, job_id: str, until: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, Any]:
    """Poll ``GET /api/v1/jobs/{id}`` until *until* holds (default: the job is over)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        r = client.get(f"/api/v1/jobs/{job_id}")
        assert r.status_code == 200, r.text
        job: dict[str, Any] = r.json()
        if (until or (lambda j: j["state"] in ("succeeded", "failed", "interrupted")))(job):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


def _kit_ids(client: httpx.Client) -> set[str]:
    r = client.get("/api/v1/kits")
    assert r.status_code == 200, r.text
    return {k["kit_id"] for k in r.json()["kits"]}


def test_upload_imports_as_a_job_and_the_kit_is_listed(service: Service, signer: Signer, tmp_path: Path) -> None:
    admin = service.login("admin")
    written = kit(tmp_path / "uploads-1.stella-kit", _files("1"), [signer], channel="edge", name="up")
    r = _upload(admin, written.path)
    assert r.status_code == 202, r.text
    queued = r.json()
    assert queued["id"].startswith("J-") and queued["kind"] == "import" and queued["createdBy"] == "admin"
    job = _wait(admin, queued["id"])
    assert job["state"] == "succeeded", job["error"]
    assert job["progress"]["fraction"] == 1.0 and job["error"] is None
    assert job["result"]["status"] == "imported" and job["result"]["kitId"] == written.manifest.kit_id
    listed = admin.get("/api/v1/kits").json()
    mine = [k for k in listed["kits"] if k["kit_id"] == written.manifest.kit_id]
    assert mine and mine[0]["actor"] == "admin" and mine[0]["active"] and listed["channels"]["edge"] == 1
    assert {a["source"] for a in listed["advisories"]}          # freshness per advisory source, as stella status
    assert not any((service.home / "uploads").iterdir())       # the upload is gone once imported
    # the job shows in the (paged, newest first) list
    page = admin.get("/api/v1/jobs", params={"limit": 1}).json()
    assert page["items"][0]["id"] == queued["id"]
    # the same kit again: already imported, as the CLI says
    again = _wait(admin, _upload(admin, written.path).json()["id"])
    assert again["state"] == "succeeded" and again["result"]["status"] == "already-imported"


def test_tampered_kit_fails_with_the_cli_kind_and_imports_nothing(service: Service, signer: Signer,
                                                                   tmp_path: Path) -> None:
    admin = service.login("admin")
    written = kit(tmp_path / "uploads-2.stella-kit", _files("2"), [signer], channel="edge", sequence=2, name="up")
    data = bytearray(written.path.read_bytes())
    data[len(data) // 2] ^= 0x01                       # inside the big attachment
    written.path.write_bytes(bytes(data))
    before = _kit_ids(admin)
    job = _wait(admin, _upload(admin, written.path).json()["id"])
    assert job["state"] == "failed", job
    assert _kit_ids(admin) == before
    # the CLI refuses the same file with the same kind
    cli = service.stella("import", str(written.path), "--no-seed")
    assert cli.exit_code == 1, cli.output
    assert f"error: {job['error']['kind']}: " in cli.output, (job["error"], cli.output)
    assert job["error"]["kind"] in ("corrupt", "digest-mismatch")     # the compressed stream, or the entry's digest
    assert "quarantined" in job["error"]["message"] and "(entry attachments/blob.bin)" in job["error"]["message"]


def test_import_needs_admin_and_unknown_job_is_404(service: Service, signer: Signer, tmp_path: Path) -> None:
    alice = service.login("alice")
    written = kit(tmp_path / "x.stella-kit", _files("3"), [signer], channel="other")
    r = _upload(alice, written.path)
    assert r.status_code == 403 and r.json()["error"]["kind"] == "missing-role", r.text
    r = alice.get("/api/v1/jobs/J-9999")
    assert r.status_code == 404 and r.json()["error"]["kind"] == "unknown-job", r.text
    assert service.client().get("/api/v1/jobs").status_code == 401


def test_an_upload_over_the_limit_is_413_and_leaves_nothing(tmp_path: Path, signer: Signer,
                                                             serve: Callable[..., Service],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    home = site_home(tmp_path / "site", signer, site=False)
    monkeypatch.setenv("STELLA_MAX_UPLOAD", str(1 << 20))
    admin = serve(home).login("admin")
    written = kit(tmp_path / "big.stella-kit", _files("5"), [signer], channel="edge", name="up")   # ~3 MiB
    r = _upload(admin, written.path)
    assert r.status_code == 413 and r.json()["error"]["kind"] == "upload-too-large", r.text

    def chunks() -> Iterator[bytes]:         # no Content-Length: refused while streaming
        data = written.path.read_bytes()
        for i in range(0, len(data), 65536):
            yield data[i:i + 65536]

    r = admin.post("/api/v1/kits", params={"filename": "big.stella-kit"}, content=chunks())
    assert r.status_code == 413 and r.json()["error"]["kind"] == "upload-too-large", r.text
    assert not any((home / "uploads").iterdir()) and admin.get("/api/v1/jobs").json()["items"] == []
    r = admin.post("/api/v1/kits", content=b"")
    assert r.status_code == 400 and r.json()["error"]["kind"] == "empty-upload", r.text


def test_a_job_running_when_the_service_is_killed_is_reported_interrupted(
        tmp_path: Path, signer: Signer, serve: Callable[..., Service], monkeypatch: pytest.MonkeyPatch) -> None:
    home = site_home(tmp_path / "site", signer, site=False)
    monkeypatch.setenv("STELLA_TEST_PAUSE_AT", "locked")       # the import stops under its lock
    monkeypatch.setenv("STELLA_TEST_PAUSE_SECONDS", "120")
    first = serve(home)
    admin = first.login("admin")
    written = kit(tmp_path / "k.stella-kit", _files("4"), [signer], channel="edge", name="up")
    job_id = _upload(admin, written.path).json()["id"]
    _wait(admin, job_id, lambda j: j["state"] == "running")
    os.kill(first.proc.pid, signal.SIGKILL)
    first.proc.wait(10)
    monkeypatch.delenv("STELLA_TEST_PAUSE_AT")
    second = serve(home)
    admin = second.login("admin")
    job = admin.get(f"/api/v1/jobs/{job_id}").json()
    assert job["state"] == "interrupted", job
    assert job["error"]["kind"] == "interrupted" and "stopped while it was running" in job["error"]["message"]
    assert written.manifest.kit_id not in _kit_ids(admin)      # all or nothing: not imported
    # and the kit imports fine now
    assert _wait(admin, _upload(admin, written.path).json()["id"])["state"] == "succeeded"


def test_deploy_as_a_job_and_409_for_a_second_deploy_meanwhile(site: Site, serve: Callable[..., Service],  # noqa: F811
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    monkeypatch.setenv("STELLA_TEST_PAUSE_AT", "deploy-before-up")     # the deploy waits before compose up
    monkeypatch.setenv("STELLA_TEST_PAUSE_SECONDS", "3")
    svc = serve(site.home)

    def bearer(user: str) -> httpx.Client:
        r = svc.stella("token", "create", "--user", user, "--json", user="root")
        assert r.exit_code == 0, r.output
        return svc.client(headers={"Authorization": f"Bearer {json.loads(r.output)['token']}"})

    dave, alice, root = bearer("dave"), bearer("alice"), bearer("root")
    # the releases come in through the API, and their images reach the registry as with stella import
    path = build_kit(site.tmp, site.signer, [Rel("shop", "1.0.0", {"web": web(port)}, {"web": "shop web 1"}),
                                             Rel("shop", "2.0.0", {"web": web(port)}, {"web": "shop web 2"})])
    imported = _wait(root, _upload(root, path).json()["id"])
    assert imported["state"] == "succeeded", imported
    assert imported["result"]["seed"]["images"] >= 2 and "error" not in imported["result"]["seed"], imported
    site.target("dev-1")
    p1 = site.promote("shop@1.0.0")
    # the deploy's own checks answer at once, with the CLI's refusal
    r = alice.post(f"/api/v1/promotions/{p1}/deploy")
    assert r.status_code == 403 and r.json()["error"]["kind"] == "missing-role", r.text
    cli = site.run("deploy", p1, user="alice")
    assert "error: missing-role" in cli.output, cli.output     # type: ignore[attr-defined]
    r = dave.post("/api/v1/promotions/P-9999/deploy")
    assert r.status_code == 404 and r.json()["error"]["kind"] == "unknown-promotion", r.text
    r = dave.post(f"/api/v1/promotions/{p1}/deploy")
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    assert r.json()["environment"] == "dev" and r.json()["kind"] == "deploy"
    # while it runs: a second deploy to dev is refused at once, by the API and by the CLI
    r = dave.post(f"/api/v1/promotions/{p1}/deploy")
    assert r.status_code == 409 and r.json()["error"]["kind"] == "deploy-running", r.text
    _wait(dave, job_id, lambda j: j["state"] == "running")
    # its progress names the step it is on (paused before compose up on the one target)
    step = _wait(dave, job_id, lambda j: "target 1/1" in j["progress"]["message"])["progress"]
    assert "dev-1" in step["message"] and 0.2 <= step["fraction"] < 0.9, step
    cli = site.run("deploy", p1, user="dave")
    assert "error: deploy-running" in cli.output, cli.output   # type: ignore[attr-defined]
    job = _wait(dave, job_id)
    assert job["state"] == "succeeded", job
    assert job["result"]["state"] == "deployed" and job["result"]["evidence"]["type"] == "deployment"
    # once it is over the next deploy runs
    p2 = site.promote("shop@2.0.0")
    job2 = _wait(dave, dave.post(f"/api/v1/promotions/{p2}/deploy").json()["id"])
    assert job2["state"] == "succeeded" and job2["result"]["release"] == "shop@2.0.0", job2
    # rollback (stella rollback dev) as a job: back to shop@1.0.0
    back = _wait(dave, dave.post("/api/v1/environments/dev/rollback", json={"reason": "test"}).json()["id"])
    assert back["state"] == "succeeded", back
    assert back["result"]["promotion"]["release"] == "shop@1.0.0"
    assert back["result"]["promotion"]["state"] == "deployed"
