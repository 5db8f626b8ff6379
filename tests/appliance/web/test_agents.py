"""Agent registration on the appliance (issue 14): one-time tokens, the agent CA, ``POST
/agent/v1/register`` with hostile bodies, listing and revocation. Real SQLite, real X.509
(cryptography), the ASGI app in process; a real ``stella serve`` is in tests/agent."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from fastapi.testclient import TestClient

from appliance.home import Home
from appliance.web.agents import create_agent_app
from kit.agentproto import RegisterAnswer
from tests.appliance.web.conftest import _cli, site_home


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return site_home(tmp_path_factory.mktemp("agents"), site=False)


@pytest.fixture()
def client(home: Path) -> Iterator[TestClient]:
    with TestClient(create_agent_app(Home(home))) as c:
        yield c


def token(home: Path, labels: str = "role=web,site=berlin", ttl: str = "15m") -> dict[str, Any]:
    result = _cli(home, "agent", "token", "create", "--labels", labels, "--ttl", ttl, "--json", user="admin")
    assert result.exit_code == 0, result.output
    created: dict[str, Any] = json.loads(result.output)
    return created


def csr(name: str, key: Any = None, *, subject: x509.Name | None = None) -> str:
    key = key or ec.generate_private_key(ec.SECP256R1())
    built = (x509.CertificateSigningRequestBuilder()
             .subject_name(subject or x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
             .sign(key, None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()))
    return built.public_bytes(serialization.Encoding.PEM).decode()


def body(tok: str, name: str, pem: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"protocol": 1, "token": tok, "name": name, "csr": pem or csr(name), "capabilities": ["compose"], **extra}


def db_rows(home: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(home / "stella.db") as conn:
        return conn.execute(sql).fetchall()


def events(home: Path, action: str) -> list[dict[str, Any]]:
    return [json.loads(r[0]) for r in db_rows(home, f"SELECT details FROM audit_events WHERE action = '{action}' "
                                                    "ORDER BY seq")]


def test_register_signs_a_client_certificate_under_the_agent_ca(home: Path, client: TestClient) -> None:
    made = token(home)
    assert made["token"].startswith("sta_") and made["state"] == "unused"
    key = ec.generate_private_key(ec.SECP256R1())
    r = client.post("/agent/v1/register", json=body(made["token"], "web-1", csr("web-1", key)))
    assert r.status_code == 200, r.text
    answer = RegisterAnswer.from_dict(r.json())
    cert = x509.load_pem_x509_certificate(answer.certificate.encode())
    ca = x509.load_pem_x509_certificate(answer.ca_certificate.encode())
    cert.verify_directly_issued_by(ca)
    assert cert.public_key() == key.public_key()
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "web-1"
    assert ExtendedKeyUsageOID.CLIENT_AUTH in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    # the appliance id is the CA certificate's SHA-256, printed by token create for the agent to pin
    assert answer.appliance_id == made["caFingerprint"] == "sha256:" + ca.fingerprint(hashes.SHA256()).hex()
    key_file = home / "agents" / "ca" / "key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.parent.stat().st_mode) == 0o700
    # labels come from the token, in the database, not in the certificate
    listed = json.loads(_cli(home, "agent", "list", "--json", user="admin").output)
    web1 = next(a for a in listed if a["name"] == "web-1")
    assert web1["labels"] == {"role": "web", "site": "berlin"} and web1["capabilities"] == ["compose"]
    assert web1["state"] == "new" and web1["certificate"]["sha256"] == cert.fingerprint(hashes.SHA256()).hex()
    assert "berlin" not in cert.subject.rfc4514_string()
    assert events(home, "agent.register")[-1]["name"] == "web-1"


def test_a_token_works_once(home: Path, client: TestClient) -> None:
    made = token(home)
    assert client.post("/agent/v1/register", json=body(made["token"], "once-a")).status_code == 200
    r = client.post("/agent/v1/register", json=body(made["token"], "once-b"))
    assert r.status_code == 403
    assert r.json()["error"]["kind"] == "token-refused"
    assert "once-b" not in [row[0] for row in db_rows(home, "SELECT name FROM agents")]
    refused = events(home, "agent.register-refused")[-1]
    assert refused["name"] == "once-b" and "already used" in refused["reason"]
    tokens = json.loads(_cli(home, "agent", "token", "list", "--json", user="admin").output)
    assert next(t for t in tokens if t["id"] == made["id"])["usedBy"] == "once-a"


def test_an_expired_or_forged_token_is_refused(home: Path, client: TestClient,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    made = token(home, ttl="1m")
    forged = made["token"][:-4] + "AAAA"
    r = client.post("/agent/v1/register", json=body(forged, "forged"))
    assert (r.status_code, r.json()["error"]["kind"]) == (403, "token-refused")
    assert "wrong secret" in events(home, "agent.register-refused")[-1]["reason"]
    later = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(minutes=2)
    monkeypatch.setattr("appliance.agents.service.now", lambda: later)
    r = client.post("/agent/v1/register", json=body(made["token"], "late"))
    assert (r.status_code, r.json()["error"]["kind"]) == (403, "token-refused")
    assert "expired" in events(home, "agent.register-refused")[-1]["reason"]
    assert db_rows(home, f"SELECT used_at FROM agent_tokens WHERE id = '{made['id']}'") == [(None,)]


def _tampered(name: str) -> str:
    der = bytearray(x509.load_pem_x509_csr(csr(name).encode()).public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0x01                      # inside the signature
    return x509.load_der_x509_csr(bytes(der)).public_bytes(serialization.Encoding.PEM).decode()


HOSTILE: list[tuple[str, Any, int, str]] = [
    ("not a CSR", lambda t: body(t, "h1", "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"
                                          "-----END CERTIFICATE REQUEST-----\n"), 400, "bad-csr"),
    ("two CSRs", lambda t: body(t, "h2", csr("h2") + csr("h2")), 400, "bad-csr"),
    ("RSA key", lambda t: body(t, "h3", csr("h3", rsa.generate_private_key(65537, 2048))), 400, "bad-csr"),
    ("P-384 key", lambda t: body(t, "h4", csr("h4", ec.generate_private_key(ec.SECP384R1()))), 400, "bad-csr"),
    ("Ed25519 key", lambda t: body(t, "h5", csr("h5", ed25519.Ed25519PrivateKey.generate())), 400, "bad-csr"),
    ("CSR for another name", lambda t: body(t, "h6", csr("web-1")), 400, "bad-csr"),
    ("extra subject attribute", lambda t: body(t, "h7", csr("h7", subject=x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "h7"), x509.NameAttribute(NameOID.ORGANIZATION_NAME, "x")]))),
     400, "bad-csr"),
    ("bad CSR signature", lambda t: body(t, "h8", _tampered("h8")), 400, "bad-csr"),
    ("unknown field", lambda t: body(t, "h9", admin=True), 400, "bad-message"),
    ("bad name", lambda t: body(t, "Web_1", csr("web-x")), 400, "bad-message"),
    ("huge name", lambda t: body(t, "a" * 100_000, csr("web-x")), 400, "bad-message"),
    ("huge CSR", lambda t: body(t, "h10", "A" * 9000), 400, "bad-message"),
    ("huge body", lambda t: {**body(t, "h11"), "pad": "x" * 300_000}, 400, "bad-message"),
    ("capabilities not a list", lambda t: body(t, "h12", capabilities="all"), 400, "bad-message"),
    ("protocol 2", lambda t: body(t, "h13", protocol=2), 400, "unknown-version"),
    ("not an object", lambda t: [t], 400, "bad-message"),
]


@pytest.mark.parametrize("what, make, status, kind", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_register_bodies_change_nothing(home: Path, client: TestClient, what: str, make: Any,
                                                status: int, kind: str) -> None:
    made = token(home)
    before = db_rows(home, "SELECT name FROM agents ORDER BY name")
    refused = len(events(home, "agent.register-refused"))
    r = client.post("/agent/v1/register", json=make(made["token"]))
    assert r.status_code == status, r.text
    assert r.json()["error"]["kind"] == kind
    assert len(r.json()["error"]["message"]) <= 600
    assert db_rows(home, "SELECT name FROM agents ORDER BY name") == before
    assert db_rows(home, f"SELECT used_at FROM agent_tokens WHERE id = '{made['id']}'") == [(None,)]
    assert len(events(home, "agent.register-refused")) == refused + 1
    assert events(home, "agent.register-refused")[-1]["kind"] == kind


def test_not_json_and_a_lying_content_length(home: Path, client: TestClient) -> None:
    r = client.post("/agent/v1/register", content=b"\xff\xfe", headers={"content-type": "application/json"})
    assert (r.status_code, r.json()["error"]["kind"]) == (400, "bad-message")
    r = client.post("/agent/v1/register", content=b"{}", headers={"content-length": "99999999999"})
    assert (r.status_code, r.json()["error"]["kind"]) == (400, "bad-message")


def test_a_name_is_registered_once(home: Path, client: TestClient) -> None:
    assert client.post("/agent/v1/register", json=body(token(home)["token"], "dup")).status_code == 200
    made = token(home)
    r = client.post("/agent/v1/register", json=body(made["token"], "dup"))
    assert (r.status_code, r.json()["error"]["kind"]) == (409, "agent-exists")
    assert db_rows(home, f"SELECT used_at FROM agent_tokens WHERE id = '{made['id']}'") == [(None,)]


def test_revoke(home: Path, client: TestClient) -> None:
    assert client.post("/agent/v1/register", json=body(token(home)["token"], "web-9")).status_code == 200
    r = _cli(home, "agent", "revoke", "web-9", "--reason", "host decommissioned", user="admin")
    assert r.exit_code == 0, r.output
    listed = {a["name"]: a for a in json.loads(_cli(home, "agent", "list", "--json", user="admin").output)}
    assert listed["web-9"]["state"] == "revoked" and listed["web-9"]["revokeReason"] == "host decommissioned"
    assert events(home, "agent.revoke")[-1] == {"name": "web-9", "reason": "host decommissioned",
                                                "certSha256": listed["web-9"]["certificate"]["sha256"]}
    # a revoked name stays taken
    r2 = client.post("/agent/v1/register", json=body(token(home)["token"], "web-9"))
    assert r2.json()["error"]["kind"] == "agent-exists"
    unknown = _cli(home, "agent", "revoke", "nope", "--reason", "x", user="admin")
    assert unknown.exit_code == 2 and "unknown-agent" in unknown.output
    empty = _cli(home, "agent", "revoke", "web-1", "--reason", " ", user="admin")
    assert empty.exit_code == 1 and "no-reason" in empty.output


def test_only_admin_creates_tokens_and_bad_options_are_named(home: Path) -> None:
    r = _cli(home, "agent", "token", "create", "--labels", "role=web", user="alice")
    assert r.exit_code == 1 and "missing-role" in r.output
    for labels, needle in (("role", "not KEY=VALUE"), ("Role=web", "key 'Role'"), ("role=w b", "value 'w b'"),
                           ("a=1,a=2", "given twice")):
        r = _cli(home, "agent", "token", "create", "--labels", labels, user="admin")
        assert r.exit_code == 3 and "bad-name" in r.output and needle in r.output, r.output
    for ttl in ("30s", "2d"):
        r = _cli(home, "agent", "token", "create", "--ttl", ttl, user="admin")
        assert r.exit_code == 3 and "bad-duration" in r.output, r.output


def test_the_service_mounts_the_agent_router(home: Path) -> None:
    """``stella serve``'s app answers /agent/v1/register too, and keeps it out of the API's OpenAPI."""
    from appliance.web.app import create_app
    with TestClient(create_app(Home(home))) as c:
        r = c.post("/agent/v1/register", json=body(token(home)["token"], "via-serve"))
        assert r.status_code == 200, r.text
        assert "/agent/v1/register" not in c.get("/api/v1/openapi.json").json()["paths"]


def test_a_damaged_agent_ca_is_named_not_replaced(tmp_path: Path) -> None:
    from appliance.agents import ca
    from appliance.errors import DamagedHome
    from kit.timeutil import now

    home = Home(tmp_path)
    made = ca.ensure(home, now())
    (tmp_path / "agents" / "ca" / "key.pem").unlink()
    with pytest.raises(DamagedHome, match="agent CA .* is damaged"):
        ca.ensure(home, now())
    assert (tmp_path / "agents" / "ca" / "cert.pem").read_text() == made.pem


def test_human_output_prints_the_token_alone_on_stdout(home: Path, client: TestClient) -> None:
    r = _cli(home, "agent", "token", "create", "--labels", "role=db", user="admin")
    assert r.exit_code == 0
    tok = r.stdout.strip()
    assert "\n" not in tok and tok.startswith("sta_")
    assert "labels role=db, usable once until" in r.stderr and "agent CA sha256:" in r.stderr
    assert tok not in r.stderr
    # the secret is not stored, only its hash
    secret = tok.split("_", 2)[2]
    assert secret.encode() not in (home / "stella.db").read_bytes()
    assert client.post("/agent/v1/register", json=body(tok, "db-1")).status_code == 200
    listing = _cli(home, "agent", "list", user="admin").stdout
    line = next(x for x in listing.splitlines() if x.startswith("db-1 "))
    assert line.split()[:3] == ["db-1", "new", "role=db"] and line.endswith("last heartbeat never")


def test_an_address_guessing_tokens_is_rate_limited(tmp_path: Path) -> None:
    fresh = site_home(tmp_path, site=False)
    good = token(fresh)
    with TestClient(create_agent_app(Home(fresh))) as c:
        for i in range(20):
            r = c.post("/agent/v1/register", json=body(good["token"][:-4] + f"{i:04d}", f"guess-{i}"))
            assert r.json()["error"]["kind"] == "token-refused", r.text
        r = c.post("/agent/v1/register", json=body(good["token"], "web-1"))
        assert (r.status_code, r.json()["error"]["kind"]) == (429, "rate-limited"), r.text
        assert "too many refused registrations from testclient" in r.json()["error"]["message"]
    assert db_rows(fresh, "SELECT count(*) FROM agents") == [(0,)]
    assert db_rows(fresh, f"SELECT used_at FROM agent_tokens WHERE id = '{good['id']}'") == [(None,)]
    assert events(fresh, "agent.register-refused")[-1]["kind"] == "rate-limited"
