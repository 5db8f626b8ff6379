"""Crypto profiles: one signer/verifier interface over Ed25519 (PyNaCl) and ECDSA (cryptography).

Profiles:
    ``default`` — Ed25519 (``keytype: ed25519``, ``scheme: ed25519``), deterministic signatures.
    ``fips``    — ECDSA P-256 with SHA-256 (``keytype: ecdsa``, ``scheme: ecdsa-sha2-nistp256``),
                  deterministic (RFC 6979) so kits stay byte-identical.
"""

from kit.crypto.keydir import KeyDirError, load_key_dir, load_public_key_file, write_key_dir
from kit.crypto.keys import PublicKey, Signer, generate, load_private_pem, public_key_from_dict

PROFILES = ("default", "fips")

__all__ = [
    "PROFILES", "PublicKey", "Signer", "generate", "load_private_pem", "public_key_from_dict",
    "KeyDirError", "load_key_dir", "load_public_key_file", "write_key_dir",
]
