"""``stella-agent register`` against an appliance that answers wrongly (a small HTTP server on
127.0.0.1 playing the appliance): each answer is refused with one line, and nothing is written."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from agent.register import register
from kit.agentproto import BadMessage, RegisterRequest
from kit.errors import KitIOError, KitVerificationError, StellaError

TOKEN = "sta_0123456789ab_" + "x" * 43
Answer = Callable[[RegisterRequest], tuple[int, bytes]]


def _ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake CA")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True).sign(key, hashes.SHA256()))
    return cert, key


CA, CA_KEY = _ca()
PIN = "sha256:" + hashlib.sha256(CA.public_bytes(serialization.Encoding.DER)).hexdigest()


def signed(request: RegisterRequest, *, name: str | None = None, other_key: bool = False,
           signer: ec.EllipticCurvePrivateKey = CA_KEY) -> bytes:
    csr = x509.load_pem_x509_csr(request.csr.encode())
    public = ec.generate_private_key(ec.SECP256R1()).public_key() if other_key else csr.public_key()
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name or request.name)]))
            .issuer_name(CA.subject).public_key(public).serial_number(2)  # type: ignore[arg-type]
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1)).sign(signer, hashes.SHA256()))
    return json.dumps({"protocol": 1, "name": request.name,
                       "certificate": cert.public_bytes(serialization.Encoding.PEM).decode(),
                       "caCertificate": CA.public_bytes(serialization.Encoding.PEM).decode(),
                       "applianceId": PIN}).encode()


@pytest.fixture()
def fake() -> Iterator[Callable[[Answer], str]]:
    servers: list[ThreadingHTTPServer] = []

    def start(answer: Answer) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                raw = self.rfile.read(int(self.headers["content-length"]))
                status, payload = answer(RegisterRequest.from_json(raw))
                self.send_response(status)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


CASES: list[tuple[str, Answer, type[StellaError], str]] = [
    ("a certificate for another key", lambda r: (200, signed(r, other_key=True)), KitVerificationError,
     "certifies another key"),
    ("a certificate for another name", lambda r: (200, signed(r, name="someone")), KitVerificationError,
     "does not name web-1"),
    ("a certificate another CA signed", lambda r: (200, signed(r, signer=ec.generate_private_key(ec.SECP256R1()))),
     KitVerificationError, "did not sign it"),
    ("not JSON", lambda r: (200, b"<html>"), BadMessage, "not JSON"),
    ("an unknown member", lambda r: (200, signed(r)[:-1] + b',"x":1}'), BadMessage, "unknown field 'x'"),
    ("an endless answer", lambda r: (200, b" " * (300 * 1024)), BadMessage, "over 262144 bytes"),
    ("an error without an envelope", lambda r: (502, b"bad gateway"), KitIOError, "HTTP 502 without an error"),
    ("an error of a kind the agent does not know", lambda r: (500, b'{"error":{"kind":"internal","message":"x"}}'),
     KitIOError, "HTTP 500: internal: x"),
]


@pytest.mark.parametrize("what, answer, error, needle", CASES, ids=[c[0] for c in CASES])
def test_a_wrong_answer_writes_nothing(fake: Callable[[Answer], str], tmp_path: Path, what: str, answer: Answer,
                                       error: type[StellaError], needle: str) -> None:
    url = fake(answer)
    with pytest.raises(error, match=needle) as raised:
        register(url, TOKEN, tmp_path / "state", "web-1", PIN, (), None)
    assert "\n" not in raised.value.one_line()
    assert list((tmp_path / "state").iterdir()) == []


def test_the_fake_appliance_is_accepted_when_it_answers_right(fake: Callable[[Answer], str], tmp_path: Path) -> None:
    """The control: the same server answering correctly registers, so each case above fails for its reason."""
    got = register(fake(lambda r: (200, signed(r))), TOKEN, tmp_path / "state", "web-1", PIN, ("compose",), None)
    assert got.appliance_id == PIN
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == ["ca.pem", "cert.pem", "key.pem",
                                                                       "registration.json"]
