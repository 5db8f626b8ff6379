"""Build provenance: a DSSE-signed in-toto Statement v1 with a SLSA provenance v1 predicate.

The statement's subjects are every other kit entry (path and sha256), its resolved
dependencies every input the build read (``oci://…@sha256:…`` images, ``file:…`` files),
and its times the kit's ``created``, so the same build gives the same bytes. It is
signed with the kit's own signers, so the trust root that admits the kit also vouches
for its provenance. See docs/provenance.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kit import canonical, dsse
from kit.crypto import PublicKey, Signer
from kit.errors import MalformedPayload
from kit.format import EntrySource
from kit.timeutil import format_time

PROVENANCE_PATH = "provenance/build.intoto.dsse.json"
PROVENANCE_TYPE = "application/vnd.in-toto.provenance+dsse"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://stella-ops.invalid/kit-build/v1"
DEFAULT_BUILDER_ID = "https://stella-ops.invalid/stella-bundler"


class Digested(Protocol):
    """Anything with a kit path and a sha256 hex digest, e.g. ``kit.format.Entry``."""

    @property
    def path(self) -> str: ...

    @property
    def sha256(self) -> str: ...


@dataclass(frozen=True)
class BuildInfo:
    """What the statement says about the build itself."""

    kit_name: str
    channel: str
    sequence: int
    created: dt.datetime
    spec_path: str            # kit.yaml as named on the command line or relative to the project
    spec_sha256: str
    bundler_version: str
    builder_id: str = DEFAULT_BUILDER_ID
    # vendor SBOMs carried although the image's digest is not in them: (release, service, kit path, reason)
    unbound_sboms: tuple[tuple[str, str, str, str], ...] = ()


def file_uri(relative_path: str) -> str:
    """``file:`` URI of an input file relative to kit.yaml (never absolute: builds move)."""
    return "file:" + relative_path


def oci_uri(reference: str, digest: str) -> str:
    """``oci://registry/repo@sha256:…`` of an image pinned by digest (tag dropped)."""
    name = reference.split("@", 1)[0]
    last = name.rsplit("/", 1)
    if ":" in last[-1]:
        name = name[: len(name) - len(last[-1])] + last[-1].split(":", 1)[0]
    return f"oci://{name}@{digest}"


def _hex(value: str, what: str) -> str:
    text = value.removeprefix("sha256:")
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise ValueError(f"{what}: not a sha256 hex digest: {value!r}")
    return text


def statement(subjects: Iterable[Digested], inputs: Iterable[tuple[str, str]], build: BuildInfo) -> dict[str, Any]:
    """The in-toto statement as a JSON value (subjects and dependencies sorted)."""
    when = format_time(build.created)
    external: dict[str, Any] = {
        "kit": {"name": build.kit_name, "channel": build.channel, "sequence": build.sequence},
        "spec": {"path": build.spec_path, "digest": {"sha256": _hex(build.spec_sha256, "kit.yaml")}},
    }
    if build.unbound_sboms:
        external["unboundSboms"] = [{"release": r, "service": s, "path": p, "reason": why}
                                    for r, s, p, why in sorted(build.unbound_sboms)]
    # (name, hex) pairs sorted by name only, so equal names keep their order as before
    subject = [{"name": name, "digest": {"sha256": hexd}} for name, hexd in sorted(
        ((s.path, _hex(s.sha256, s.path)) for s in subjects if s.path != PROVENANCE_PATH), key=lambda p: p[0])]
    resolved = [{"uri": uri, "digest": {"sha256": hexd}} for uri, hexd in sorted(
        ((uri, _hex(sha, uri)) for uri, sha in set(inputs)), key=lambda p: p[0])]
    return {
        "_type": STATEMENT_TYPE,
        "subject": subject,
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": external,
                "resolvedDependencies": resolved,
            },
            "runDetails": {
                "builder": {"id": build.builder_id, "version": {"stella-bundler": build.bundler_version}},
                "metadata": {"startedOn": when, "finishedOn": when},
            },
        },
    }


def provenance_entry(subjects: Sequence[Digested], inputs: Sequence[tuple[str, str]], build: BuildInfo,
                     signers: Sequence[Signer]) -> EntrySource:
    """The signed provenance as the ``provenance/build.intoto.dsse.json`` entry.

    Args:
        subjects: every other kit entry with its sha256 (an entry at PROVENANCE_PATH is ignored).
        inputs: (uri, sha256) of every input read: see ``file_uri`` and ``oci_uri``.
        build: kit identity, kit.yaml digest, bundler version, builder id, created time.
        signers: the kit's signers (one signature each, sorted by key id).

    Raises:
        ValueError: a digest is not sha256 hex, or there is no signer (caller bugs).
    """
    if not signers:
        raise ValueError("provenance needs at least one signer")
    payload = canonical.dumps(statement(subjects, inputs, build))
    envelope = dsse.sign(PAYLOAD_TYPE, payload, signers)
    return EntrySource(PROVENANCE_PATH, PROVENANCE_TYPE, data=envelope.to_bytes())


def verify_provenance(envelope_bytes: bytes, keys: Mapping[str, PublicKey], threshold: int = 1) -> dict[str, Any]:
    """The statement of a provenance envelope, after checking its signatures and shape.

    Raises:
        KitFormatError: not a DSSE envelope, or the payload is not an in-toto SLSA statement.
        KitVerificationError: fewer than *threshold* trusted keys signed it validly.
    """
    envelope = dsse.Envelope.from_bytes(envelope_bytes, PROVENANCE_PATH)
    dsse.verify(envelope, keys, threshold, PAYLOAD_TYPE, what="provenance")
    found = envelope.payload_json(PROVENANCE_PATH)
    if not isinstance(found, dict) or found.get("_type") != STATEMENT_TYPE \
            or found.get("predicateType") != PREDICATE_TYPE or not isinstance(found.get("subject"), list):
        raise MalformedPayload(f"{PROVENANCE_PATH}: not an in-toto v1 SLSA provenance statement",
                             entry=PROVENANCE_PATH)
    return found
