"""HTTPS: ``stella init`` makes a self-signed certificate in the home; ``stella serve`` uses it by default;
without TLS the service refuses any address but loopback (docs/service.md, "TLS")."""

from __future__ import annotations

import os
import ssl
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from kit.crypto import Signer
from tests.appliance.helpers import ROOT, make_root, stella
from tests.appliance.web.conftest import free_port


def _init(tmp_path: Path, signer: Signer, *extra: str) -> tuple[Path, str]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    trust = tmp_path / "trust.json"
    trust.write_bytes(make_root([signer]).envelope.to_bytes())
    home = tmp_path / "home"
    result = stella("init", "--trust", str(trust), "--registry-addr", "127.0.0.1:9", *extra, home=home)
    return home, f"{result.exit_code}\n{result.output}"


def _sans(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return san.get_values_for_type(x509.DNSName), [str(a) for a in san.get_values_for_type(x509.IPAddress)]


def test_init_creates_a_self_signed_certificate_for_localhost(tmp_path: Path, signer: Signer) -> None:
    home, out = _init(tmp_path, signer)
    assert out.startswith("0\n"), out
    cert_path, key_path = home / "tls" / "cert.pem", home / "tls" / "key.pem"
    assert "self-signed HTTPS certificate" in out and "SHA-256 fingerprint" in out
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    assert _sans(cert) == (["localhost"], ["127.0.0.1"])
    assert cert.issuer == cert.subject
    key = cert.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.SERVER_AUTH in eku
    days = (cert.not_valid_after_utc - cert.not_valid_before_utc).days
    assert 365 <= days <= 398  # browsers refuse server certificates valid longer than 398 days


def test_init_tls_names_and_no_tls_cert(tmp_path: Path, signer: Signer) -> None:
    home, out = _init(tmp_path / "a", signer, "--tls-name", "stella.site.example", "--tls-name", "10.1.2.3",
                      "--tls-name", "::1", "--json")
    assert out.startswith("0\n"), out
    cert = x509.load_pem_x509_certificate((home / "tls" / "cert.pem").read_bytes())
    assert _sans(cert) == (["stella.site.example"], ["10.1.2.3", "::1"])
    assert cert.subject.rfc4514_string().startswith("O=Stella Ops appliance (self-signed),CN=stella.site.example")
    assert '"sha256"' in out
    home, out = _init(tmp_path / "b", signer, "--no-tls-cert")
    assert out.startswith("0\n") and not (home / "tls").exists(), out


def test_init_refuses_a_bad_tls_name_before_touching_the_home(tmp_path: Path, signer: Signer) -> None:
    home, out = _init(tmp_path, signer, "--tls-name", "bad name/<x>")
    assert out.startswith("3\n") and "bad-name" in out, out
    assert not home.exists()


def _serve(home: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", "from appliance.cli import main; main()", "serve",
                             "--home", str(home), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture()
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)


def test_serve_uses_the_home_certificate_by_default(tmp_path: Path, signer: Signer,
                                                    procs: list[subprocess.Popen[bytes]]) -> None:
    home, out = _init(tmp_path, signer)
    assert out.startswith("0\n"), out
    cert_path = home / "tls" / "cert.pem"
    port = free_port()
    proc = _serve(home, "--listen", f"127.0.0.1:{port}")
    procs.append(proc)
    trusting = ssl.create_default_context(cafile=str(cert_path))  # that certificate and nothing else
    deadline = time.monotonic() + 30
    with httpx.Client(verify=trusting, timeout=2.0) as client:
        while True:
            assert proc.poll() is None, proc.communicate()
            try:
                r = client.get(f"https://127.0.0.1:{port}/api/v1/openapi.json")
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline, "stella serve did not answer over HTTPS"
                time.sleep(0.1)
        assert r.status_code == 200 and r.json()["info"]["title"] == "Stella Ops appliance"
        r = client.get(f"https://localhost:{port}/api/v1/openapi.json")  # the other name in the certificate
        assert r.status_code == 200
    # the server presents exactly the home's certificate
    pem = ssl.get_server_certificate(("127.0.0.1", port))
    assert x509.load_pem_x509_certificate(pem.encode()) == x509.load_pem_x509_certificate(cert_path.read_bytes())
    # a client that does not trust it refuses the connection; plain HTTP gets no answer
    with httpx.Client(timeout=2.0) as client:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            client.get(f"https://127.0.0.1:{port}/api/v1/openapi.json")
        with pytest.raises(httpx.TransportError):
            client.get(f"http://127.0.0.1:{port}/api/v1/openapi.json")
    assert "https://127.0.0.1:" in _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> str:
    proc.terminate()
    _, err = proc.communicate(timeout=10)
    return err.decode()


def test_without_tls_only_loopback(tmp_path: Path, signer: Signer) -> None:
    home, out = _init(tmp_path, signer, "--no-tls-cert")
    assert out.startswith("0\n"), out
    for listen in ("0.0.0.0:8443", "[::]:8443", "192.0.2.1:8443", "appliance.example:8443"):
        proc = _serve(home, "--listen", listen)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 3, err
        assert err.decode().startswith("stella: error: bad-listen: "), err
        assert "loopback only" in err.decode()
    # a home with its certificate: --no-tls is plain HTTP, so the same rule
    home2, out = _init(tmp_path / "b", signer)
    proc = _serve(home2, "--listen", "0.0.0.0:8443", "--no-tls")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 3 and b"bad-listen" in err, err
    proc = _serve(home2, "--listen", "127.0.0.1:8443", "--tls-cert", str(home2 / "tls" / "cert.pem"))
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 3 and b"both --tls-cert and --tls-key" in err, err
