"""Evidence packets: a decision record and every input it names, sealed by the appliance.

One file, ``*.stella-evidence``: a DSSE envelope (canonical JSON, payload type
``application/vnd.stella.evidence-packet+json``) whose payload is canonical JSON —
schema docs/schemas/evidence-packet.schema.json, format in docs/evidence.md:

    {"_type": "stella/evidence-packet", "formatVersion": "1.0",
     "packetType": "release_decision" | "deployment" | "rollback" | "workflow_run",
     "subject": {...}, "createdAt": "…",
     "manifest": [{"name": "decision-record", "digest": "sha256:…"},
                  {"name": "input/<name>", "digest": "sha256:…"}, …, {"name": "event", …}],
     "decisionRecord": {…}, "inputs": {"<name>": {…}}, "event": {…} | null,
     "appliance": {"keyid": "…", "publicKey": {…}}}

Every digest is the sha256 of the named document's canonical JSON. Packets are
deterministic: no wall-clock time (``createdAt`` is the decision's or the event's time),
canonical JSON, deterministic signatures. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kit import canonical, dsse
from kit.crypto.keys import PublicKey, Signer
from kit.errors import (
    DigestMismatch,
    ManifestMismatch,
    NotAnEvidencePacket,
    SchemaError,
    UnknownVersion,
)

PAYLOAD_TYPE = "application/vnd.stella.evidence-packet+json"
PACKET_TYPE = "stella/evidence-packet"
FORMAT_VERSION = "1.0"
TYPES = ("release_decision", "deployment", "rollback", "workflow_run")
RECORD = "decision-record"
EVENT = "event"


@dataclass(frozen=True)
class Packet:
    """A packet's payload, shape-checked by ``from_payload`` (signatures are checked apart)."""

    packet_type: str
    record: dict[str, Any]        # the decision record, hashed as it stands
    inputs: dict[str, Any]        # every input document by name, hashed as it stands
    event: object                 # the event document, or None
    listed: dict[str, object]     # the manifest: document name -> digest as written (checked later)
    payload: dict[str, Any]       # the whole signed document

    @classmethod
    def from_payload(cls, payload: object, where: str) -> Packet:
        """The packet in *payload*, or KitFormatError naming the field that breaks the format."""
        if not isinstance(payload, dict) or payload.get("_type") != PACKET_TYPE:
            raise NotAnEvidencePacket(f"{where}: not a Stella evidence packet")
        version = payload.get("formatVersion")
        if not isinstance(version, str) or version.split(".")[0] != FORMAT_VERSION.split(".")[0]:
            raise UnknownVersion(f"{where}: unknown format version {version!r}")
        for name, kind in (("packetType", str), ("manifest", list), ("decisionRecord", dict), ("inputs", dict)):
            if not isinstance(payload.get(name), kind):
                raise SchemaError(f"{where}: field {name!r} is missing or not a {kind.__name__}")
        packet_type, manifest = payload["packetType"], payload["manifest"]
        if packet_type not in TYPES:
            raise SchemaError(f"{where}: unknown packet type {packet_type!r}")
        # Items that are not objects have always been passed over (a digest check follows);
        # a name that is not a string could never match a document, so it is malformed here.
        items = [item for item in manifest if isinstance(item, dict)]
        for item in items:
            if not isinstance(item.get("name"), str):
                raise SchemaError(f"{where}: manifest item name {item.get('name')!r} is not a string")
        return cls(packet_type, payload["decisionRecord"], payload["inputs"], payload.get("event"),
                   {item["name"]: item.get("digest") for item in items}, payload)


def _manifest(record: dict[str, Any], inputs: dict[str, Any], event: dict[str, Any] | None) -> list[dict[str, str]]:
    items = [{"name": RECORD, "digest": canonical.digest(record)}]
    items += [{"name": f"input/{n}", "digest": canonical.digest(inputs[n])} for n in sorted(inputs)]
    if event is not None:
        items.append({"name": EVENT, "digest": canonical.digest(event)})
    return items


def build(packet_type: str, record: dict[str, Any], inputs: dict[str, Any], signer: Signer,
          event: dict[str, Any] | None = None) -> bytes:
    """The signed packet file's bytes (canonical DSSE envelope)."""
    if packet_type not in TYPES:
        raise ValueError(f"packet type must be one of {TYPES}")
    created = (event or {}).get("at") or record["evaluatedAt"]
    payload = {"_type": PACKET_TYPE, "formatVersion": FORMAT_VERSION, "packetType": packet_type,
               "subject": record["subject"], "createdAt": created, "manifest": _manifest(record, inputs, event),
               "decisionRecord": record, "inputs": inputs, "event": event,
               "appliance": {"keyid": signer.keyid, "publicKey": signer.public_key.to_dict()}}
    return dsse.sign(PAYLOAD_TYPE, canonical.dumps(payload), [signer]).to_bytes()


def parse(data: bytes, where: str = "evidence packet") -> tuple[dsse.Envelope, Packet]:
    """Envelope and payload, shape-checked but NOT signature-checked (replay without a key)."""
    envelope = dsse.Envelope.from_bytes(data, where)
    return envelope, Packet.from_payload(envelope.payload_json(where), where)


def check_digests(packet: Packet) -> list[str]:
    """Every digest check, as lines; raises at the first mismatch.

    Raises:
        KitVerificationError: kind ``digest-mismatch`` naming the document, or
            ``manifest-mismatch`` when the manifest and the record disagree on an input.
    """
    listed = packet.listed
    docs: dict[str, Any] = {RECORD: packet.record, **{f"input/{n}": d for n, d in packet.inputs.items()}}
    if packet.event is not None:
        docs[EVENT] = packet.event
    if set(listed) != set(docs):
        extra = sorted(set(listed) ^ set(docs))
        raise ManifestMismatch(f"the manifest and the packet's documents differ: {', '.join(extra)}", entry=extra[0])
    lines = []
    for name in sorted(docs):
        actual = canonical.digest(docs[name])
        if actual != listed[name]:
            raise DigestMismatch(f"{name}: digest {actual} does not match the manifest's {listed[name]}", entry=name)
        lines.append(f"{name} {actual}")
    record_inputs = packet.record.get("inputs")
    named: dict[str, object] = record_inputs if isinstance(record_inputs, dict) else {}
    for name, digest in sorted(named.items()):
        if listed.get(f"input/{name}") != digest:
            raise ManifestMismatch(f"the decision record names input {name} as {digest}, the packet carries "
                                   f"{listed.get(f'input/{name}')}", entry=f"input/{name}")
    return lines


def verify(data: bytes, key: PublicKey) -> Packet:
    """Signature by the appliance *key*, then every digest.

    Raises:
        KitFormatError: not an evidence packet.
        KitVerificationError: bad or foreign signature, or a digest mismatch.
    """
    envelope, packet = parse(data)
    dsse.verify(envelope, {key.keyid: key}, 1, PAYLOAD_TYPE, "evidence packet")
    check_digests(packet)
    return packet
