"""The agent listener of a real ``stella serve`` (docs/agent-protocol.md, docs/adr/0013-agent-listener.md):
mutual TLS against the agent CA, calls refused by name with an audit event and nothing changed
(issue 14 "Bad input"), heartbeats turning an agent ready then down, renewal.

Agents here are made in-process (a key, a CSR, the registration call) and speak with httpx
presenting their certificate, so each hostile call is exactly the one described.
"""

from __future__ import annotations

import datetime as dt
import json
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from appliance.agents import tasks
from appliance.store.db import open_db
from kit.timeutil import format_time, now
from tests.appliance.web.conftest import Service, _cli, site_home, start_service

TIMING = {"STELLA_AGENT_INTERVAL": "0.5", "STELLA_AGENT_GRACE": "2", "STELLA_AGENT_LEASE": "5"}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc = start_service(site_home(tmp_path_factory.mktemp("agent-listener"), site=False), env=TIMING)
    try:
        yield svc
    finally:
        svc.stop()


@pytest.fixture(autouse=True)
def timing(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in TIMING.items():
        monkeypatch.setenv(k, v)


@dataclass
class Agent:
    name: str
    folder: Path
    ca: Path

    def client(self, svc: Service, cert: Path | None = None, key: Path | None = None) -> httpx.Client:
        ctx = ssl.create_default_context(cafile=str(self.ca))
        ctx.load_cert_chain(str(cert or self.folder / "cert.pem"), str(key or self.folder / "key.pem"))
        return httpx.Client(base_url=svc.agent_url, verify=ctx, timeout=30)

    def heartbeat(self, running: tuple[str, ...] = ()) -> dict[str, Any]:
        return {"protocol": 1, "name": self.name, "sent": format_time(now()), "running": list(running)}


def csr_for(name: str) -> tuple[ec.EllipticCurvePrivateKey, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])).sign(key, hashes.SHA256()))
    return key, csr.public_bytes(serialization.Encoding.PEM).decode()


def write_pair(folder: Path, key: ec.EllipticCurvePrivateKey, cert_pem: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    (folder / "cert.pem").write_bytes(cert_pem)


def register(svc: Service, tmp: Path, name: str, *, on_agent_listener: bool = False) -> Agent:
    made = json.loads(_cli(svc.home, "agent", "token", "create", "--labels", "role=web", "--json",
                           user="admin").output)
    key, csr = csr_for(name)
    body = {"protocol": 1, "token": made["token"], "name": name, "csr": csr, "capabilities": ["compose"]}
    ca = svc.home / "agents" / "ca" / "cert.pem"
    if on_agent_listener:          # no client certificate yet: the one call the listener takes without one
        with httpx.Client(verify=ssl.create_default_context(cafile=str(ca)), timeout=30) as c:
            r = c.post(f"{svc.agent_url}/agent/v1/register", json=body)
    else:
        r = svc.client().post("/agent/v1/register", json=body)
    assert r.status_code == 200, r.text
    write_pair(tmp / name, key, r.json()["certificate"].encode())
    return Agent(name, tmp / name, ca)


def audit(svc: Service, action: str) -> list[dict[str, Any]]:
    db = open_db(svc.home / "stella.db")
    try:
        return [json.loads(d) for (d,) in db.execute("SELECT details FROM audit_events WHERE action = ? "
                                                     "ORDER BY seq", [action])]
    finally:
        db.close()


def listed(svc: Service) -> dict[str, dict[str, Any]]:
    return {a["name"]: a for a in json.loads(_cli(svc.home, "agent", "list", "--json", user="admin").output)}


def refused(r: httpx.Response, status: int, kind: str) -> str:
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["kind"] == kind, error
    return str(error["message"])


def test_register_on_the_agent_listener_then_heartbeat_ready_then_down(service: Service, tmp_path: Path) -> None:
    a = register(service, tmp_path, "lst-1", on_agent_listener=True)
    assert listed(service)["lst-1"]["state"] == "new"
    with a.client(service) as c:
        started = time.monotonic()
        r = c.post("/agent/v1/poll", json=a.heartbeat())
        assert r.status_code == 204, r.text
        assert 0.4 <= time.monotonic() - started < 5        # held for the interval, no task
    shown = listed(service)["lst-1"]
    assert shown["state"] == "ready" and shown["lastHeartbeat"] is not None
    text = _cli(service.home, "agent", "list", user="admin").output
    assert "lst-1" in text and "ready" in text
    time.sleep(3.2)                                           # past the grace (2 s)
    assert listed(service)["lst-1"]["state"] == "down"


def test_a_client_certificate_from_another_ca_fails_the_handshake(service: Service, tmp_path: Path) -> None:
    a = register(service, tmp_path, "lst-2")
    # a CA key of our own under the agent CA's very name, signing a certificate for the agent's name
    ca_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Stella Ops agent CA"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Stella Ops appliance")])
    at = dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lst-2")]))
            .issuer_name(name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(at - dt.timedelta(minutes=5)).not_valid_after(at + dt.timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    write_pair(tmp_path / "forged", key, cert.public_bytes(serialization.Encoding.PEM))
    before = listed(service)["lst-2"]
    with a.client(service, tmp_path / "forged" / "cert.pem", tmp_path / "forged" / "key.pem") as c, \
            pytest.raises(httpx.TransportError):
        c.post("/agent/v1/poll", json=a.heartbeat())
    assert listed(service)["lst-2"] == before                # no heartbeat recorded
    # the genuine certificate still works
    with a.client(service) as c:
        assert c.post("/agent/v1/poll", json=a.heartbeat()).status_code == 204


def test_no_client_certificate_is_refused_except_for_registration(service: Service, tmp_path: Path) -> None:
    a = register(service, tmp_path, "lst-3")
    ca = ssl.create_default_context(cafile=str(a.ca))
    with httpx.Client(verify=ca, base_url=service.agent_url, timeout=30) as c:
        message = refused(c.post("/agent/v1/poll", json=a.heartbeat()), 403, "certificate-refused")
    assert "client certificate" in message
    # the main listener has no client certificates at all: only registration is served there
    refused(service.client().post("/agent/v1/poll", json=a.heartbeat()), 403, "certificate-refused")
    assert any(e["path"] == "/agent/v1/poll" and e["agent"] is None and e["kind"] == "certificate-refused"
               for e in audit(service, "agent.call-refused"))
    assert listed(service)["lst-3"]["state"] == "new"


def test_a_revoked_agent_is_refused_at_its_next_call(service: Service, tmp_path: Path) -> None:
    a = register(service, tmp_path, "lst-4")
    with a.client(service) as c:
        assert c.post("/agent/v1/poll", json=a.heartbeat()).status_code == 204
        r = _cli(service.home, "agent", "revoke", "lst-4", "--reason", "host decommissioned", user="admin")
        assert r.exit_code == 0, r.output
        message = refused(c.post("/agent/v1/poll", json=a.heartbeat()), 403, "certificate-refused")
    assert "agent lst-4 was revoked" in message and "host decommissioned" in message
    assert any(e["agent"] == "lst-4" and e["kind"] == "certificate-refused"
               for e in audit(service, "agent.call-refused"))
    assert listed(service)["lst-4"]["state"] == "revoked"


def test_a_result_for_a_lease_not_held_changes_nothing(service: Service, tmp_path: Path) -> None:
    owner, other = register(service, tmp_path, "lst-5"), register(service, tmp_path, "lst-6")
    db = open_db(service.home / "stella.db")
    try:
        task = tasks.enqueue(db, "lst-5", "inspect", {"project": "shop"}, "inspect-lst-5", repeatable=True)
        with owner.client(service) as c:
            r = c.post("/agent/v1/poll", json=owner.heartbeat())
        assert r.status_code == 200, r.text
        lease = r.json()
        assert lease["type"] == "inspect" and lease["payload"] == {"project": "shop"}
        before = db.execute("SELECT * FROM agent_tasks WHERE id = ?", [task]).fetchone()
        result = {"protocol": 1, "leaseId": lease["leaseId"], "idempotencyKey": lease["idempotencyKey"],
                  "status": "succeeded", "detail": "forged"}
        with other.client(service) as c:        # another agent's lease
            message = refused(c.post("/agent/v1/result", json=result), 409, "lease-refused")
        assert "another agent's" in message
        with owner.client(service) as c:        # a lease nobody holds, a wrong key
            refused(c.post("/agent/v1/result", json={**result, "leaseId": "lease-000000000000"}), 409,
                    "lease-refused")
            refused(c.post("/agent/v1/result", json={**result, "idempotencyKey": "inspect-other"}), 409,
                    "lease-refused")
        assert db.execute("SELECT * FROM agent_tasks WHERE id = ?", [task]).fetchone() == before
        events = [e for e in audit(service, "agent.result-refused") if e["lease"] in (lease["leaseId"],
                                                                                       "lease-000000000000")]
        assert {e["agent"] for e in events} == {"lst-5", "lst-6"} and len(events) == 3
        # the holder's result is taken; a second one under the same lease does not replace it
        with owner.client(service) as c:
            assert c.post("/agent/v1/result", json={**result, "detail": "1 container"}).status_code == 204
            assert c.post("/agent/v1/result", json={**result, "detail": "again"}).status_code == 204
        done = tasks.wait(db, task, 5)
        assert done.state == "succeeded" and done.detail == "1 container"
    finally:
        db.close()


def test_an_expired_lease_cannot_report(service: Service, tmp_path: Path) -> None:
    a = register(service, tmp_path, "lst-7")
    db = open_db(service.home / "stella.db")
    try:
        task = tasks.enqueue(db, "lst-7", "sticker-write", {"project": "shop", "sticker": "{}"}, "sticker-lst-7",
                             repeatable=False)
        with a.client(service) as c:
            lease = c.post("/agent/v1/poll", json=a.heartbeat()).json()
            time.sleep(6)                                      # the lease (5 s) runs out unrenewed
            message = refused(c.post("/agent/v1/result", json={
                "protocol": 1, "leaseId": lease["leaseId"], "idempotencyKey": lease["idempotencyKey"],
                "status": "succeeded", "detail": "late"}), 409, "lease-refused")
        assert "expired" in message
        gone = tasks.get(db, task)
        assert gone.state == "expired" and gone.detail and "late" not in gone.detail
    finally:
        db.close()


@pytest.mark.parametrize(("body", "needle"), [
    (b"{", "not JSON"),
    (b'{"protocol":1,"name":"lst-8","sent":"now","running":[]}', "heartbeat.sent"),
    (b'{"protocol":1,"name":"lst-8","sent":"2026-01-01T00:00:00Z","running":[],"extra":1}', "unknown field"),
    (b"x" * (256 * 1024 + 1), "at most 262144"),
])
def test_malformed_and_oversized_messages_are_bad_message(service: Service, tmp_path: Path, body: bytes,
                                                          needle: str) -> None:
    name = f"lst-8-{len(body) % 97}-{body[:1].hex()}"
    a = register(service, tmp_path, name)
    with a.client(service) as c:
        message = refused(c.post("/agent/v1/poll", content=body.replace(b"lst-8", name.encode())), 400,
                          "bad-message")
    assert needle in message
    assert any(e["agent"] == name and e["kind"] == "bad-message" for e in audit(service, "agent.call-refused"))
    assert listed(service)[name]["state"] == "new"             # nothing recorded


def test_a_heartbeat_in_another_agents_name_is_refused(service: Service, tmp_path: Path) -> None:
    a, b = register(service, tmp_path, "lst-9"), register(service, tmp_path, "lst-10")
    with a.client(service) as c:
        refused(c.post("/agent/v1/poll", json=b.heartbeat()), 403, "certificate-refused")
    assert listed(service)["lst-10"]["state"] == "new"


def test_renewal_replaces_the_certificate(service: Service, tmp_path: Path) -> None:
    a = register(service, tmp_path, "lst-11")
    key, csr = csr_for("lst-11")
    with a.client(service) as c:
        refused(c.post("/agent/v1/renew", json={"protocol": 1, "name": "lst-11", "csr": csr_for("lst-12")[1]}),
                400, "bad-csr")
        r = c.post("/agent/v1/renew", json={"protocol": 1, "name": "lst-11", "csr": csr})
        assert r.status_code == 200, r.text
    renewed = x509.load_pem_x509_certificate(r.json()["certificate"].encode())
    assert renewed.public_key() == key.public_key()
    write_pair(tmp_path / "renewed", key, r.json()["certificate"].encode())
    with a.client(service, tmp_path / "renewed" / "cert.pem", tmp_path / "renewed" / "key.pem") as c:
        assert c.post("/agent/v1/poll", json=a.heartbeat()).status_code == 204
    with a.client(service) as c:                                 # the old certificate: refused from now on
        assert "no agent's current certificate" in refused(c.post("/agent/v1/poll", json=a.heartbeat()), 403,
                                                           "certificate-refused")
    shown = listed(service)["lst-11"]["certificate"]
    assert shown["sha256"] == renewed.fingerprint(hashes.SHA256()).hex()
    assert any(e["name"] == "lst-11" for e in audit(service, "agent.renew"))


def test_a_busy_agent_port(service: Service, tmp_path: Path) -> None:
    """Given explicitly, a port in use is refused (bad-listen, exit 3) before anything is served; the
    default 8444 in use (another appliance, a test) leaves the service up without agents, warned."""
    import os
    import socket
    import subprocess
    import sys

    from tests.appliance.helpers import ROOT
    from tests.appliance.web.conftest import free_port

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    base = [sys.executable, "-c", "from appliance.cli import main; main()", "serve", "--no-tls", "--home",
            str(service.home)]
    try:
        r = subprocess.run([*base, "--listen", f"127.0.0.1:{free_port()}", "--agent-listen",
                            f"127.0.0.1:{taken.getsockname()[1]}"], env=env, capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 3 and "bad-listen" in r.stderr and "in use" in r.stderr, r.stderr
        default = socket.socket()
        try:
            default.bind(("127.0.0.1", 8444))
            default.listen(1)
        except OSError:
            pass                        # busy already: the case under test either way
        port = free_port()
        proc = subprocess.Popen([*base, "--listen", f"127.0.0.1:{port}"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.1)
        finally:
            proc.terminate()
            _out, err = proc.communicate(timeout=15)
            default.close()
        assert "no agent listener: 127.0.0.1:8444 is in use" in err.decode()
    finally:
        taken.close()
