"""DSSE envelopes (github.com/secure-systems-lab/dsse, v1.0) with threshold verification.

An envelope is ``{"payload": base64, "payloadType": str, "signatures": [{"keyid", "sig"}]}``;
signatures are over PAE(payloadType, payload). We write it as canonical JSON with the
signatures sorted by key id, so the same payload and keys always give the same bytes.
Verification returns a result object (truthy when the threshold is met) that counts
valid, invalid and untrusted signatures, as python-tuf's VerificationResult does; the
raising wrapper turns it into an error that names what was wrong.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kit import canonical
from kit.crypto.keys import PublicKey, Signer
from kit.errors import (
    BadSignature,
    KitVerificationError,
    MalformedEnvelope,
    MalformedPayload,
    ThresholdNotMet,
    Unsigned,
    UntrustedKey,
    WrongPayloadType,
)


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def _b64decode(text: Any, where: str) -> bytes:
    if not isinstance(text, str):
        raise MalformedEnvelope(f"{where} must be a base64 string")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise MalformedEnvelope(f"{where} is not valid base64") from None


@dataclass(frozen=True)
class Signature:
    keyid: str
    sig: bytes


@dataclass(frozen=True)
class Envelope:
    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...] = ()

    @classmethod
    def from_bytes(cls, data: bytes, where: str = "envelope") -> Envelope:
        """Parse an envelope strictly (no duplicate keys, no unknown fields).

        Raises:
            KitFormatError: not JSON, or not a DSSE envelope.
        """
        try:
            obj = canonical.loads(data)
        except canonical.CanonicalJSONError as exc:
            raise MalformedEnvelope(f"{where}: {exc}") from None
        return cls.from_dict(obj, where)

    @classmethod
    def from_dict(cls, obj: Any, where: str = "envelope") -> Envelope:
        if not isinstance(obj, dict) or set(obj) != {"payload", "payloadType", "signatures"}:
            raise MalformedEnvelope(f"{where}: a DSSE envelope has exactly payload, payloadType and signatures")
        if not isinstance(obj["payloadType"], str) or not isinstance(obj["signatures"], list):
            raise MalformedEnvelope(f"{where}: payloadType must be a string and signatures a list")
        sigs = []
        for i, item in enumerate(obj["signatures"]):
            if not isinstance(item, dict) or set(item) != {"keyid", "sig"} or not isinstance(item["keyid"], str):
                raise MalformedEnvelope(f"{where}: signature {i} needs exactly keyid and sig")
            sigs.append(Signature(item["keyid"], _b64decode(item["sig"], f"{where}: signature {i}")))
        return cls(obj["payloadType"], _b64decode(obj["payload"], f"{where}: payload"), tuple(sigs))

    def to_dict(self) -> dict[str, Any]:
        return {
            "payload": base64.b64encode(self.payload).decode("ascii"),
            "payloadType": self.payload_type,
            "signatures": [{"keyid": s.keyid, "sig": base64.b64encode(s.sig).decode("ascii")}
                           for s in sorted(self.signatures, key=lambda s: (s.keyid, s.sig))],
        }

    def to_bytes(self) -> bytes:
        return canonical.dumps(self.to_dict())

    def payload_json(self, where: str = "payload") -> Any:
        try:
            return canonical.loads(self.payload)
        except canonical.CanonicalJSONError as exc:
            raise MalformedPayload(f"{where}: {exc}") from None


def sign(payload_type: str, payload: bytes, signers: Iterable[Signer]) -> Envelope:
    """An envelope over *payload* signed by every signer (one signature per distinct key)."""
    message = pae(payload_type, payload)
    by_id = {s.keyid: s for s in signers}
    sigs = tuple(Signature(kid, by_id[kid].sign(message)) for kid in sorted(by_id))
    return Envelope(payload_type, payload, sigs)


@dataclass(frozen=True)
class VerificationResult:
    """What a threshold check found. Truthy only when enough trusted keys signed validly."""

    threshold: int
    valid: frozenset[str] = field(default_factory=frozenset)
    invalid: frozenset[str] = field(default_factory=frozenset)
    untrusted: frozenset[str] = field(default_factory=frozenset)

    def __bool__(self) -> bool:
        return len(self.valid) >= self.threshold and not self.invalid

    @property
    def missing(self) -> int:
        return max(0, self.threshold - len(self.valid))

    def describe(self) -> str:
        text = f"signed by {len(self.valid)} of {self.threshold} required trusted keys"
        if self.invalid:
            text += f"; invalid signature by key {', '.join(sorted(k[:12] for k in self.invalid))}"
        if self.untrusted:
            keys = ", ".join(sorted(k[:12] for k in self.untrusted))
            text += f"; {len(self.untrusted)} signature(s) by untrusted key {keys}"
        return text


def check(envelope: Envelope, keys: Mapping[str, PublicKey], threshold: int,
          expected_type: str) -> VerificationResult:
    """Count signatures by the trusted *keys* (keyid → key) that verify over PAE.

    A signature whose keyid is trusted but does not verify is "invalid" and fails the
    result even when the threshold is otherwise met: a kit carrying a broken signature
    has been tampered with. Signatures by keys not in *keys* are noted, not counted.
    """
    if threshold < 1:
        raise ValueError("threshold must be at least 1")
    if envelope.payload_type != expected_type:
        return VerificationResult(threshold)
    message = pae(envelope.payload_type, envelope.payload)
    valid, invalid, untrusted = set(), set(), set()
    for sig in envelope.signatures:
        key = keys.get(sig.keyid)
        if key is None or key.keyid != sig.keyid:
            untrusted.add(sig.keyid)
        elif key.verify(sig.sig, message):
            valid.add(sig.keyid)
        else:
            invalid.add(sig.keyid)
    return VerificationResult(threshold, frozenset(valid), frozenset(invalid - valid), frozenset(untrusted))


def verify(envelope: Envelope, keys: Mapping[str, PublicKey], threshold: int, expected_type: str,
           what: str = "document") -> VerificationResult:
    """Like :func:`check`, but raise when the result is not sufficient.

    Raises:
        KitVerificationError: ``WrongPayloadType``, ``BadSignature``, ``UntrustedKey``,
            ``Unsigned`` or ``ThresholdNotMet`` (docs/cli.md names their kinds).
    """
    if envelope.payload_type != expected_type:
        raise WrongPayloadType(f"{what} has payload type {envelope.payload_type!r}, expected {expected_type!r}")
    result = check(envelope, keys, threshold, expected_type)
    if result:
        return result
    failure: type[KitVerificationError]
    if result.invalid:
        failure = BadSignature
    elif not envelope.signatures:
        failure = Unsigned
    elif not result.valid and result.untrusted:
        failure = UntrustedKey
    else:
        failure = ThresholdNotMet
    raise failure(f"{what} {result.describe()}" if envelope.signatures else f"{what} carries no signature")
