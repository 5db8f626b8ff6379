"""The agent CA: an EC P-256 key and a self-signed CA certificate in the home, made on first use,
that signs each agent's client certificate (docs/agent-protocol.md "Trust").

    <home>/agents/ca/cert.pem   the CA certificate (what agents pin; its SHA-256 is the appliance id)
    <home>/agents/ca/key.pem    its private key (PKCS#8, mode 0600; the folder is 0700)

Two processes making it at once: each writes a folder of its own and renames it into place;
the loser's rename fails and it loads the winner's, so there is only ever one CA.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from appliance.errors import DamagedHome
from appliance.home import Home, fsync_dir
from kit.agentproto import BadCSR

CA_DAYS = 3650
AGENT_DAYS = 90          # an agent renews (POST /agent/v1/renew) when a third of this is left
SERVER_DAYS = 365        # the agent listener's own certificate; remade at start when under RENEW_SERVER is left
RENEW_SERVER = dt.timedelta(days=30)
_USAGE = dict(content_commitment=False, key_encipherment=False, data_encipherment=False, key_agreement=False,
              encipher_only=False, decipher_only=False)


@dataclass(frozen=True)
class AgentCA:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def pem(self) -> str:
        return self.cert.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def fingerprint(self) -> str:
        """``sha256:<hex>`` of the CA certificate's DER: the appliance id agents pin."""
        return "sha256:" + hashlib.sha256(self.cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def folder(home: Home) -> Path:
    return home.root / "agents" / "ca"


def load(home: Home) -> AgentCA | None:
    """The home's agent CA, or None before the first token or registration made it."""
    where = folder(home)
    if not where.exists():
        return None
    try:
        cert = x509.load_pem_x509_certificate((where / "cert.pem").read_bytes())
        key = serialization.load_pem_private_key((where / "key.pem").read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise DamagedHome(f"the agent CA in {where} is damaged ({str(exc)[:80]}); agents' certificates "
                          "cannot be issued or checked (restore it from a backup)") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        raise DamagedHome(f"the agent CA key in {where} does not belong to its certificate")
    return AgentCA(cert, key)


def ensure(home: Home, at: dt.datetime) -> AgentCA:
    """The home's agent CA, made now if there is none."""
    found = load(home)
    if found is not None:
        return found
    parent = folder(home).parent
    parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    draft = Path(tempfile.mkdtemp(prefix=".ca-", dir=parent))       # mode 0700
    try:
        ca = _new(at)
        fd = os.open(draft / "key.pem", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(ca.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()))
            os.fsync(f.fileno())
        (draft / "cert.pem").write_text(ca.pem)
        try:
            os.rename(draft, folder(home))
        except OSError:                     # another process made it first: theirs is the CA
            shutil.rmtree(draft, ignore_errors=True)
            winner = load(home)
            if winner is None:
                raise
            return winner
        fsync_dir(parent)
        return ca
    except BaseException:
        shutil.rmtree(draft, ignore_errors=True)
        raise


def _new(at: dt.datetime) -> AgentCA:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Stella Ops agent CA"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Stella Ops appliance")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(at - dt.timedelta(minutes=5)).not_valid_after(at + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, key_cert_sign=True, crl_sign=True, **_USAGE),
                           critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    return AgentCA(cert, key)


def check_csr(pem: str, name: str) -> x509.CertificateSigningRequest:
    """The CSR in *pem* when it is one well-signed PEM request for an EC P-256 key whose subject
    is exactly ``CN=name``.

    Raises:
        BadCSR: anything else.
    """
    if pem.count("-----BEGIN CERTIFICATE REQUEST-----") != 1:
        raise BadCSR("register.csr: must hold exactly one PEM certificate request")
    try:
        csr = x509.load_pem_x509_csr(pem.encode())
        key = csr.public_key()
        signed = csr.is_signature_valid
        cns = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    except (ValueError, TypeError, x509.UnsupportedGeneralNameType) as exc:
        raise BadCSR(f"register.csr: not a certificate request ({str(exc)[:80]})") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise BadCSR(f"register.csr: the key is {_describe(key)}; agents use EC P-256")
    if not signed:
        raise BadCSR("register.csr: the request's signature does not verify")
    if len(csr.subject) != 1 or len(cns) != 1 or cns[0].value != name:
        raise BadCSR(f"register.csr: the subject must be CN={name} (the name registered), "
                     f"not {csr.subject.rfc4514_string()[:80]!r}")
    return csr


def _describe(key: object) -> str:
    curve = getattr(key, "curve", None)
    size = getattr(key, "key_size", None)
    kind = type(key).__name__.lstrip("_").replace("PublicKey", "")
    return f"{kind} {curve.name}" if curve is not None else f"{kind} {size}" if size else kind


def issue(ca: AgentCA, csr: x509.CertificateSigningRequest, name: str, at: dt.datetime) -> x509.Certificate:
    """A client certificate for the agent *name* (CN = name; its labels stay in the database)."""
    public = csr.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Stella Ops agent")])
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(ca.cert.subject).public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(at - dt.timedelta(minutes=5)).not_valid_after(at + dt.timedelta(days=AGENT_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False, **_USAGE),
                           critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
            .sign(ca.key, hashes.SHA256()))


def issue_server(ca: AgentCA, hosts: tuple[str, ...],
                 at: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The agent listener's certificate and key, for *hosts* (names or IP addresses, the first as CN):
    agents verify the listener against the CA they pinned, so it is that CA that signs it."""
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0][:64]),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Stella Ops agent listener")])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca.cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(at - dt.timedelta(minutes=5)).not_valid_after(at + dt.timedelta(days=SERVER_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False, **_USAGE),
                           critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
            .sign(ca.key, hashes.SHA256()))
    return cert, key


def server_pair(home: Home, hosts: tuple[str, ...], at: dt.datetime) -> tuple[Path, Path, Path]:
    """``(cert.pem, key.pem, ca.pem)`` for the agent listener, in ``<home>/agents/listener/``: the one
    there when it is the CA's, names exactly *hosts* and has more than 30 days left; else made anew."""
    authority = ensure(home, at)
    where = home.root / "agents" / "listener"
    where.mkdir(mode=0o700, parents=True, exist_ok=True)
    cert_path, key_path, ca_path = where / "cert.pem", where / "key.pem", folder(home) / "cert.pem"
    try:
        found = x509.load_pem_x509_certificate(cert_path.read_bytes())
        sans = found.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        named = sorted(str(n.value) for n in sans)
        found.verify_directly_issued_by(authority.cert)
        if named == sorted(hosts) and found.not_valid_after_utc - at > RENEW_SERVER and key_path.exists():
            return cert_path, key_path, ca_path
    except Exception:  # noqa: BLE001 - missing, damaged, another CA's: made anew below
        pass
    cert, key = issue_server(authority, hosts, at)
    draft = where / f".key-{os.getpid()}.pem"
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    os.replace(draft, key_path)
    draft = where / f".cert-{os.getpid()}.pem"
    draft.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    os.replace(draft, cert_path)
    return cert_path, key_path, ca_path
