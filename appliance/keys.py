"""The appliance signing key (``keys/``): created by ``stella init``, signs import records."""

from __future__ import annotations

from appliance.home import Home
from kit.crypto import PublicKey, Signer, generate, load_key_dir, write_key_dir


def create(home: Home, profile: str = "default") -> Signer:
    signer = generate(profile)
    write_key_dir(home.keys, signer)
    return signer


def signer(home: Home) -> Signer:
    _public, key = load_key_dir(home.keys, need_private=True)
    assert key is not None
    return key


def public(home: Home) -> PublicKey:
    return load_key_dir(home.keys, need_private=False)[0]
