"""The version sticker: what the appliance deployed on a target, signed with its key.

``stella.version.json`` is a DSSE envelope (payload type
``application/vnd.stella.version-sticker+json``) over a canonical JSON payload:

    {"_type": "stella/version-sticker", "version": "1.0", "generatedAt", "generator",
     "release": {"id": "NAME@VERSION", "name", "version", "components": {service: digest}},
     "deployment": {"id", "promotion", "environment", "target", "project", "startedAt", "finishedAt"},
     "lockSha256": "<hex of the lock file's bytes>"}

Drift checks trust a sticker only when its signature verifies with the appliance key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kit import canonical, dsse
from kit.crypto.keys import PublicKey, Signer
from kit.errors import NotASticker, SchemaError

STICKER_TYPE = "application/vnd.stella.version-sticker+json"
STICKER_NAME = "stella.version.json"
_REQUIRED = {"_type": str, "version": str, "generatedAt": str, "generator": str, "release": dict,
             "deployment": dict, "lockSha256": str}


def make_sticker(*, release: Mapping[str, Any], deployment: Mapping[str, Any], lock_sha256: str,
                 generated_at: str, generator: str, signer: Signer) -> bytes:
    """The signed sticker file's bytes."""
    payload = {"_type": "stella/version-sticker", "version": "1.0", "generatedAt": generated_at,
               "generator": generator, "release": dict(release), "deployment": dict(deployment),
               "lockSha256": lock_sha256}
    check_payload(payload)
    return dsse.sign(STICKER_TYPE, canonical.dumps(payload), [signer]).to_bytes()


def check_payload(payload: Any) -> dict[str, Any]:
    """Raises KitFormatError when *payload* is not a sticker."""
    if not isinstance(payload, dict) or payload.get("_type") != "stella/version-sticker":
        raise NotASticker("not a Stella version sticker")
    for name, kind in _REQUIRED.items():
        if not isinstance(payload.get(name), kind):
            raise SchemaError(f"version sticker: {name} is missing or not a {kind.__name__}")
    return payload


def read_sticker(data: bytes, key: PublicKey) -> dict[str, Any]:
    """Verify a sticker file against the appliance key and return its payload.

    Raises:
        KitFormatError: not a sticker envelope.
        KitVerificationError: the signature is missing, bad or not the appliance's.
    """
    envelope = dsse.Envelope.from_bytes(data, STICKER_NAME)
    dsse.verify(envelope, {key.keyid: key}, 1, STICKER_TYPE, "version sticker")
    return check_payload(envelope.payload_json(STICKER_NAME))
