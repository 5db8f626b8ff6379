"""The appliance's HTTPS certificate: a self-signed one made by ``stella init`` (docs/service.md, "TLS").

    <home>/tls/cert.pem   the certificate (EC P-256, SHA-256, SANs for the appliance's names)
    <home>/tls/key.pem    its private key (PKCS#8, mode 0600)

``stella serve`` uses this pair when it is there and no ``--tls-cert/--tls-key`` is given. A site
replaces both files with a certificate from its own CA (same paths, same formats).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path

from appliance.errors import AlreadyInitialised, BadName
from appliance.home import Home

DEFAULT_NAMES = ("localhost", "127.0.0.1")
VALID_DAYS = 397  # what browsers accept for a server certificate; renew or replace before it ends
_DNS = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$", re.I)


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path
    names: tuple[str, ...]
    sha256: str  # fingerprint of the DER certificate, colon-separated hex (what browsers show)
    not_after: dt.datetime


def paths(home: Home) -> tuple[Path, Path]:
    """(cert.pem, key.pem) in *home*/tls."""
    return home.root / "tls" / "cert.pem", home.root / "tls" / "key.pem"


def home_pair(home: Home) -> tuple[Path, Path] | None:
    """The home's certificate and key when both exist (what ``stella serve`` uses by default)."""
    cert, key = paths(home)
    return (cert, key) if cert.is_file() and key.is_file() else None


def check_names(names: tuple[str, ...]) -> tuple[str, ...]:
    """Each name is an IP address or a DNS name (``*.`` allowed first); duplicates dropped, order kept.

    Raises:
        BadName: a name is neither.
    """
    out: list[str] = []
    for name in names:
        try:
            ipaddress.ip_address(name)
        except ValueError:
            if len(name) > 253 or not _DNS.match(name):
                raise BadName(f"--tls-name {name!r}: not a DNS name or an IP address") from None
        if name not in out:
            out.append(name)
    if not out:
        raise BadName("--tls-name: give at least one name")
    return tuple(out)


def create_self_signed(home: Home, names: tuple[str, ...], at: dt.datetime) -> Pair:
    """Write a self-signed server certificate for *names* (the first is the subject's CN) into *home*/tls.

    Raises:
        BadName: a name is not a DNS name or an IP address.
        AlreadyInitialised: a certificate is already there (replace the files by hand: docs/service.md).
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    names = check_names(names)
    cert_path, key_path = paths(home)
    if cert_path.exists() or key_path.exists():
        raise AlreadyInitialised(f"{cert_path.parent} already holds a certificate (replace its files by hand)")
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0]),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Stella Ops appliance (self-signed)")])
    sans: list[x509.GeneralName] = []
    for name in names:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            sans.append(x509.DNSName(name))
    start = at - dt.timedelta(minutes=5)  # a client whose clock is a little behind still accepts it
    not_after = at + dt.timedelta(days=VALID_DAYS)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key_pem)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    digest = cert.fingerprint(hashes.SHA256()).hex().upper()
    return Pair(cert_path, key_path, names, ":".join(digest[i:i + 2] for i in range(0, len(digest), 2)), not_after)
