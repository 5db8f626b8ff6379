"""Registering with the appliance: a key made here, a CSR, one call with the one-time token, and
an answer trusted only when its CA has the fingerprint the admin gave (no trust on first use).

Nothing is written to the state directory unless the whole answer checks out.
"""

from __future__ import annotations

import hashlib
import ipaddress
import ssl
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from agent import state
from agent.answers import read_bounded, refusal
from kit.agentproto import (
    PROTOCOL,
    AgentExists,
    BadCSR,
    BadMessage,
    CAMismatch,
    RegisterAnswer,
    RegisterRequest,
    TokenRefused,
)
from kit.errors import BadUsage, KitError, KitIOError, KitVerificationError, UnknownVersion, cut
from kit.timeutil import format_time, now

PATH = "/agent/v1/register"
CA_PATH = "/agent/v1/ca"
TIMEOUT = 30.0
# the kinds the appliance answers with that the agent reports as its own (same kind, same exit code)
KINDS: dict[str, type[KitError]] = {c.kind: c for c in (TokenRefused, AgentExists, BadCSR, BadMessage, UnknownVersion)}


def check_url(url: str) -> str:
    """*url* without a trailing slash: https://…, or http:// to a loopback address only (the token
    would cross the network in clear).

    Raises:
        BadUsage: anything else.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
        raise BadUsage(f"--appliance {cut(url, 80)!r}: give https://HOST[:PORT]")
    if parts.scheme == "http":
        try:
            loopback = ipaddress.ip_address(parts.hostname).is_loopback
        except ValueError:
            loopback = parts.hostname == "localhost"
        if not loopback:
            raise BadUsage(f"--appliance {cut(url, 80)!r}: plain http only to a loopback address; use https")
    return url.rstrip("/")


def check_fingerprint(text: str) -> str:
    """``sha256:<64 hex>`` (colons and case forgiven, as browsers print it)."""
    hexed = text.removeprefix("sha256:").replace(":", "").lower()
    if len(hexed) != 64 or any(c not in "0123456789abcdef" for c in hexed):
        raise BadUsage(f"--ca-fingerprint {cut(text, 80)!r}: give sha256:<64 hex digits> (stella agent token create)")
    return "sha256:" + hexed


def register(appliance: str, token: str, state_dir: Path, name: str, ca_fingerprint: str,
             capabilities: tuple[str, ...], ca_file: Path | None) -> state.Registration:
    """Register as *name* and write the state directory (see the module docstring)."""
    url, pinned = check_url(appliance), check_fingerprint(ca_fingerprint)
    state.prepare(state_dir)
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])).sign(key, hashes.SHA256()))
    request = RegisterRequest(PROTOCOL, token, name, csr.public_bytes(serialization.Encoding.PEM).decode(),
                              tuple(sorted(capabilities)))
    answer = _call(url, request.to_json(), ca_file, pinned)
    ca_pem = answer.ca_certificate.encode()
    try:
        ca = x509.load_pem_x509_certificate(ca_pem)
        cert = x509.load_pem_x509_certificate(answer.certificate.encode())
    except ValueError as exc:
        raise BadMessage(f"register answer: a certificate is not PEM ({str(exc)[:80]})") from None
    found = "sha256:" + hashlib.sha256(ca.public_bytes(serialization.Encoding.DER)).hexdigest()
    if found != pinned:
        raise CAMismatch(f"the appliance's agent CA is {found}, not the {pinned} given; nothing was written "
                         "(ask the admin to revoke the agent it registered)")
    _check_certificate(cert, ca, key, name, answer)
    registration = state.Registration(name, url, answer.appliance_id, request.capabilities, format_time(now()),
                                      format_time(cert.not_valid_after_utc))
    state.write(state_dir, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.NoEncryption()),
                cert.public_bytes(serialization.Encoding.PEM), ca_pem, registration)
    return registration


def _check_certificate(cert: x509.Certificate, ca: x509.Certificate, key: ec.EllipticCurvePrivateKey, name: str,
                       answer: RegisterAnswer) -> None:
    """The answer names us, certifies our key, is signed by the pinned CA, and its id is that CA's."""
    problems = []
    if answer.name != name or [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)] != [name]:
        problems.append(f"it does not name {name}")
    if cert.public_key() != key.public_key():
        problems.append("it certifies another key")
    try:
        cert.verify_directly_issued_by(ca)
    except Exception as exc:  # noqa: BLE001 - InvalidSignature, a wrong key type…: one refusal
        problems.append(f"the agent CA did not sign it ({type(exc).__name__})")
    if answer.appliance_id != "sha256:" + hashlib.sha256(ca.public_bytes(serialization.Encoding.DER)).hexdigest():
        problems.append("the appliance id is not its CA's fingerprint")
    if problems:
        raise KitVerificationError("register answer: the certificate is refused: " + "; ".join(problems))


def pinned_ca(url: str, pinned: str) -> str | None:
    """The agent CA's PEM from ``GET /agent/v1/ca`` when its SHA-256 is the fingerprint the admin gave,
    else None. Read without verifying the server (we trust nothing yet): the fingerprint is what
    authenticates the CA, and the registration call that follows is verified against it, so the
    agent listener — whose certificate that CA issued — is reachable with no --ca-file."""
    try:
        with httpx.Client(verify=False, timeout=TIMEOUT, follow_redirects=False) as client, \
                client.stream("GET", url + CA_PATH) as response:       # noqa: S501 - checked by fingerprint
            raw = b""
            for chunk in response.iter_bytes():
                raw += chunk
                if len(raw) > 64 * 1024:
                    return None
            if response.status_code != 200:
                return None
        ca = x509.load_pem_x509_certificate(raw)
    except (httpx.HTTPError, ValueError):
        return None
    found = "sha256:" + hashlib.sha256(ca.public_bytes(serialization.Encoding.DER)).hexdigest()
    return ca.public_bytes(serialization.Encoding.PEM).decode() if found == pinned else None


def _call(url: str, body: bytes, ca_file: Path | None, pinned: str | None = None) -> RegisterAnswer:
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(ca_file)) if ca_file else True
    if ca_file is None and url.startswith("https://") and pinned is not None:
        agent_ca = pinned_ca(url, pinned)
        if agent_ca is not None:            # the system's CAs and the pinned agent CA
            verify = ssl.create_default_context()
            verify.load_verify_locations(cadata=agent_ca)
    try:
        with httpx.Client(verify=verify, timeout=TIMEOUT, follow_redirects=False) as client, \
                client.stream("POST", url + PATH, content=body,
                              headers={"content-type": "application/json"}) as response:
            status, raw = response.status_code, read_bounded(response, "register answer")
    except httpx.HTTPError as exc:
        raise KitIOError(f"cannot reach the appliance at {url}: {cut(str(exc), 200) or type(exc).__name__}") from None
    if status != 200:
        raise refusal(status, raw, KINDS)
    return RegisterAnswer.from_json(raw)

