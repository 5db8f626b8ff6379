"""Build provenance: in-toto Statement v1 / SLSA v1 shape, DSSE signature, determinism."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from bundler.sources.provenance import (
    PAYLOAD_TYPE,
    PROVENANCE_PATH,
    PROVENANCE_TYPE,
    BuildInfo,
    file_uri,
    oci_uri,
    provenance_entry,
    verify_provenance,
)
from kit import canonical, dsse
from kit.crypto import Signer, generate
from kit.errors import KitFormatError, KitVerificationError
from kit.format import Entry

A, B = "a" * 64, "b" * 64
CREATED = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
BUILD = BuildInfo(kit_name="site", channel="stable", sequence=7, created=CREATED, spec_path="kit.yaml",
                  spec_sha256="c" * 64, bundler_version="1.2.3")
SUBJECTS = [Entry("vex/site.json", "application/vnd.openvex+json", 10, B),
            Entry("advisories/records.ndjson", "application/vnd.stella.advisories+ndjson", 20, A)]
INPUTS = [(oci_uri("127.0.0.1:5000/app:1.0", "sha256:" + A), A), (file_uri("vex/site.json"), B)]


def fixed_signer(seed: int) -> Signer:
    return Signer(ed25519.Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32))


def test_statement_shape_and_signature() -> None:
    key = fixed_signer(1)
    entry = provenance_entry(SUBJECTS, INPUTS, BUILD, [key])
    assert (entry.path, entry.media_type) == (PROVENANCE_PATH, PROVENANCE_TYPE)
    envelope = dsse.Envelope.from_bytes(entry.data or b"")
    assert envelope.payload_type == PAYLOAD_TYPE and canonical.is_canonical(envelope.payload)
    dsse.verify(envelope, {key.keyid: key.public_key}, 1, PAYLOAD_TYPE)
    statement = verify_provenance(entry.data or b"", {key.keyid: key.public_key})
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    assert statement["subject"] == [{"name": "advisories/records.ndjson", "digest": {"sha256": A}},
                                    {"name": "vex/site.json", "digest": {"sha256": B}}]
    build = statement["predicate"]["buildDefinition"]
    assert build["buildType"] == "https://stella-ops.invalid/kit-build/v1"
    assert build["externalParameters"] == {"kit": {"name": "site", "channel": "stable", "sequence": 7},
                                           "spec": {"path": "kit.yaml", "digest": {"sha256": "c" * 64}}}
    assert build["resolvedDependencies"] == [
        {"uri": "file:vex/site.json", "digest": {"sha256": B}},
        {"uri": f"oci://127.0.0.1:5000/app@sha256:{A}", "digest": {"sha256": A}}]
    run = statement["predicate"]["runDetails"]
    assert run["builder"]["version"] == {"stella-bundler": "1.2.3"}
    assert run["metadata"] == {"startedOn": "2026-11-01T00:00:00Z", "finishedOn": "2026-11-01T00:00:00Z"}


def test_deterministic_with_several_signers() -> None:
    keys = [fixed_signer(1), fixed_signer(2)]
    one = provenance_entry(SUBJECTS, INPUTS, BUILD, keys).data
    two = provenance_entry(list(reversed(SUBJECTS)), list(reversed(INPUTS)), BUILD, list(reversed(keys))).data
    assert one == two
    fips = generate("fips")  # RFC 6979: ECDSA signatures are deterministic too
    first, second = (provenance_entry(SUBJECTS, INPUTS, BUILD, [fips]) for _ in range(2))
    assert first.data == second.data


def test_provenance_entry_itself_is_not_a_subject() -> None:
    subjects = SUBJECTS + [Entry(PROVENANCE_PATH, PROVENANCE_TYPE, 1, A)]
    key = fixed_signer(1)
    statement = verify_provenance(provenance_entry(subjects, INPUTS, BUILD, [key]).data or b"",
                                  {key.keyid: key.public_key})
    assert PROVENANCE_PATH not in {s["name"] for s in statement["subject"]}


def test_tampered_or_untrusted_is_refused() -> None:
    key, other = fixed_signer(1), fixed_signer(2)
    data = provenance_entry(SUBJECTS, INPUTS, BUILD, [key]).data or b""
    with pytest.raises(KitVerificationError):
        verify_provenance(data, {other.keyid: other.public_key})
    doc = json.loads(data)
    payload = json.loads(base64.b64decode(doc["payload"]))
    payload["subject"][0]["digest"]["sha256"] = B
    doc["payload"] = base64.b64encode(canonical.dumps(payload)).decode()
    with pytest.raises(KitVerificationError, match="bad-signature|invalid signature"):
        verify_provenance(canonical.dumps(doc), {key.keyid: key.public_key})


def test_wrong_statement_type_is_malformed() -> None:
    key = fixed_signer(1)
    envelope = dsse.sign(PAYLOAD_TYPE, canonical.dumps({"_type": "x"}), [key])
    with pytest.raises(KitFormatError, match="not an in-toto v1 SLSA provenance statement"):
        verify_provenance(envelope.to_bytes(), {key.keyid: key.public_key})


def test_bad_digest_and_no_signer_are_caller_bugs() -> None:
    with pytest.raises(ValueError, match="not a sha256 hex digest"):
        provenance_entry(SUBJECTS, [("file:x", "nope")], BUILD, [fixed_signer(1)])
    with pytest.raises(ValueError, match="at least one signer"):
        provenance_entry(SUBJECTS, INPUTS, BUILD, [])


@pytest.mark.parametrize("ref, uri", [
    ("127.0.0.1:5000/app:1.0", "oci://127.0.0.1:5000/app@sha256:" + A),
    ("registry.example/team/app", "oci://registry.example/team/app@sha256:" + A),
    ("app@sha256:" + B, "oci://app@sha256:" + A),
])
def test_oci_uri(ref: str, uri: str) -> None:
    assert oci_uri(ref, "sha256:" + A) == uri
