"""kit.evidence.packet: the payload is parsed once into a typed Packet; bad shapes are malformed input."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kit import canonical, dsse
from kit.crypto import generate
from kit.errors import KitFormatError, KitVerificationError
from kit.evidence import packet
from kit.exitcodes import MALFORMED

RECORD = {"subject": {"release": "web@1.0.0"}, "evaluatedAt": "2025-01-01T00:00:00Z", "verdict": "pass",
          "inputs": {"release": canonical.digest({"path": "r"})}}
INPUTS = {"release": {"path": "r"}}


def _payload() -> dict[str, Any]:
    data = packet.build("release_decision", RECORD, INPUTS, generate("default"))
    return json.loads(dsse.Envelope.from_bytes(data, "t").payload)


def test_parsed_fields() -> None:
    p = packet.Packet.from_payload(_payload(), "t")
    assert (p.packet_type, p.record, p.inputs, p.event) == ("release_decision", RECORD, INPUTS, None)
    assert set(p.listed) == {"decision-record", "input/release"}
    assert packet.check_digests(p) == [f"decision-record {canonical.digest(RECORD)}",
                                       f"input/release {canonical.digest(INPUTS['release'])}"]


@pytest.mark.parametrize("name", [None, 5, ["input/release"], {"a": 1}])
def test_manifest_name_not_a_string_is_malformed(name: object) -> None:
    doc = _payload()
    doc["manifest"].append({"name": name, "digest": "sha256:00"})
    with pytest.raises(KitFormatError) as info:
        packet.Packet.from_payload(doc, "t")
    assert info.value.kind == "schema" and info.value.exit_code == MALFORMED
    assert "manifest item name" in info.value.message


def test_manifest_items_that_are_not_objects_are_passed_over() -> None:
    doc = _payload()
    doc["manifest"].append(42)
    assert packet.check_digests(packet.Packet.from_payload(doc, "t"))


def test_an_unlisted_document_is_a_manifest_mismatch() -> None:
    doc = _payload()
    doc["manifest"] = [item for item in doc["manifest"] if item["name"] != "input/release"]
    with pytest.raises(KitVerificationError) as info:
        packet.check_digests(packet.Packet.from_payload(doc, "t"))
    assert info.value.kind == "manifest-mismatch" and info.value.entry == "input/release"
