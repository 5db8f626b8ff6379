"""Import records: what the appliance checked when it imported a kit, signed by its key.

A DSSE envelope (payload type ``application/vnd.stella.import-record+json``) over the
canonical JSON documented in docs/appliance.md ("Import records"). The appliance signs;
``stella-verify import-record`` checks with :func:`verify_import_record`. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from kit import canonical, dsse
from kit.crypto.keys import PublicKey, Signer
from kit.errors import NotAnImportRecord, SchemaError, UnknownVersion

PAYLOAD_TYPE = "application/vnd.stella.import-record+json"
RECORD_TYPE = "stella/import-record"
FORMAT_VERSION = "1.0"
REQUIRED = {"_type": str, "formatVersion": str, "importId": str, "time": str, "actor": str,
            "result": str, "kit": dict, "trustRoot": dict, "checks": list, "appliance": dict}
KIT_FIELDS = ("kitId", "name", "channel", "sequence", "kind", "created", "expires")


def sign_record(payload: dict[str, Any], signer: Signer) -> dsse.Envelope:
    """Check the payload's shape, then sign its canonical bytes."""
    check_payload(payload)
    return dsse.sign(PAYLOAD_TYPE, canonical.dumps(payload), [signer])


def check_payload(payload: Any, where: str = "import record") -> dict[str, Any]:
    """The payload when it has every required field with the right type.

    Raises:
        KitFormatError: not an import record, unknown major version, or a missing field.
    """
    if not isinstance(payload, dict) or payload.get("_type") != RECORD_TYPE:
        raise NotAnImportRecord(f"{where}: not a Stella import record")
    version = payload.get("formatVersion")
    if not isinstance(version, str) or version.split(".")[0] != FORMAT_VERSION.split(".")[0]:
        raise UnknownVersion(f"{where}: unknown format version {version!r}")
    for name, kind in REQUIRED.items():
        if not isinstance(payload.get(name), kind):
            raise SchemaError(f"{where}: field {name!r} is missing or not a {kind.__name__}")
    missing = [f for f in KIT_FIELDS if f not in payload["kit"]]
    if missing:
        raise SchemaError(f"{where}: kit.{missing[0]} is missing")
    for i, check in enumerate(payload["checks"]):
        if not isinstance(check, dict) or not {"check", "ok", "detail"} <= set(check):
            raise SchemaError(f"{where}: checks[{i}] needs check, ok and detail")
    return payload


def verify_import_record(data: bytes, key: PublicKey) -> dict[str, Any]:
    """Verify an import record file against the appliance's public key; return its payload.

    Raises:
        KitFormatError: not a DSSE envelope or not an import record.
        KitVerificationError: not signed by *key* (``bad-signature``, ``untrusted-key``...).
    """
    envelope = dsse.Envelope.from_bytes(data, "import record")
    dsse.verify(envelope, {key.keyid: key}, 1, PAYLOAD_TYPE, "import record")
    return check_payload(envelope.payload_json("import record"))
