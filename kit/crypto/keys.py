"""Public keys, key ids and signers for the two crypto profiles.

A public key is the small JSON object ``{"keytype", "scheme", "public"}``; its key id is
the sha256 of that object's canonical JSON, so the same key has the same id everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import nacl.exceptions
import nacl.signing
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from kit import canonical
from kit.errors import BadKey

ED25519 = ("ed25519", "ed25519")
ECDSA_P256 = ("ecdsa", "ecdsa-sha2-nistp256")
_SCHEMES = {ED25519, ECDSA_P256}


@dataclass(frozen=True)
class PublicKey:
    """A verification key. ``public`` is lowercase hex (Ed25519) or a PEM SubjectPublicKeyInfo (ECDSA)."""

    keytype: str
    scheme: str
    public: str

    def to_dict(self) -> dict[str, str]:
        return {"keytype": self.keytype, "scheme": self.scheme, "public": self.public}

    @property
    def keyid(self) -> str:
        return canonical.sha256_hex(canonical.dumps(self.to_dict()))

    def verify(self, signature: bytes, message: bytes) -> bool:
        """True when *signature* is a valid signature of *message* by this key."""
        try:
            if (self.keytype, self.scheme) == ED25519:
                nacl.signing.VerifyKey(bytes.fromhex(self.public)).verify(message, signature)
                return True
            key = serialization.load_pem_public_key(self.public.encode())
            if not isinstance(key, ec.EllipticCurvePublicKey):
                return False
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
            return True
        except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, InvalidSignature,
                ValueError, TypeError):
            return False


def public_key_from_dict(data: Any, where: str = "key") -> PublicKey:
    """Build a PublicKey from its JSON object, checking the scheme and the key material.

    Raises:
        KitFormatError: unknown scheme or unreadable key material.
    """
    if not isinstance(data, dict) or set(data) != {"keytype", "scheme", "public"}:
        raise BadKey(f"{where}: a key needs exactly keytype, scheme and public")
    key = PublicKey(str(data["keytype"]), str(data["scheme"]), str(data["public"]))
    if (key.keytype, key.scheme) not in _SCHEMES:
        raise BadKey(f"{where}: unsupported key scheme {key.keytype}/{key.scheme}")
    try:
        if (key.keytype, key.scheme) == ED25519:
            if len(bytes.fromhex(key.public)) != 32 or key.public != key.public.lower():
                raise ValueError("not 32 bytes of lowercase hex")
        else:
            loaded = serialization.load_pem_public_key(key.public.encode())
            if not isinstance(loaded, ec.EllipticCurvePublicKey) or loaded.curve.name != "secp256r1":
                raise ValueError("not a P-256 public key")
    except ValueError as exc:
        raise BadKey(f"{where}: unreadable public key: {exc}") from None
    return key


class Signer:
    """A private key able to sign; ``public_key`` tells who it is."""

    def __init__(self, private: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        self._private = private
        if isinstance(private, ed25519.Ed25519PrivateKey):
            raw = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                        serialization.NoEncryption())
            self._nacl: nacl.signing.SigningKey | None = nacl.signing.SigningKey(raw)
            self.public_key = PublicKey(*ED25519, bytes(self._nacl.verify_key).hex())
        else:
            self._nacl = None
            pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo)
            self.public_key = PublicKey(*ECDSA_P256, pem.decode())

    @property
    def keyid(self) -> str:
        return self.public_key.keyid

    def sign(self, message: bytes) -> bytes:
        """Sign deterministically: Ed25519 is by construction, ECDSA per RFC 6979."""
        if self._nacl is not None:
            return bytes(self._nacl.sign(message).signature)
        assert isinstance(self._private, ec.EllipticCurvePrivateKey)
        return self._private.sign(message, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))

    def private_pem(self) -> bytes:
        return self._private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption())


def generate(profile: str = "default") -> Signer:
    """A new key for *profile* (``default`` = Ed25519, ``fips`` = ECDSA P-256)."""
    if profile == "default":
        return Signer(ed25519.Ed25519PrivateKey.generate())
    if profile == "fips":
        return Signer(ec.generate_private_key(ec.SECP256R1()))
    raise ValueError(f"unknown crypto profile {profile!r} (use default or fips)")


def load_private_pem(data: bytes, where: str = "private key") -> Signer:
    """Load a PKCS#8 PEM private key of either profile.

    Raises:
        KitFormatError: not a PEM key, or a key of an unsupported type.
    """
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise BadKey(f"{where}: not an unencrypted PKCS#8 PEM key ({exc})") from None
    if isinstance(private, ed25519.Ed25519PrivateKey):
        return Signer(private)
    if isinstance(private, ec.EllipticCurvePrivateKey) and private.curve.name == "secp256r1":
        return Signer(private)
    raise BadKey(f"{where}: unsupported key type (use Ed25519 or ECDSA P-256)")
