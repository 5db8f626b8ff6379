"""SPDX 2.3 JSON for a catalog, via spdx-tools (validated while writing), byte-deterministic.

The document namespace is derived from the image digest, ``created`` is passed in,
SPDX ids follow the sorted component order, and the output is re-dumped with sorted keys.
Licenses that are not a valid SPDX expression become NOASSERTION, with the declared
text kept in the package's license comment.
"""

from __future__ import annotations

import io
import json
from datetime import datetime

from spdx_tools.common.spdx_licensing import spdx_licensing
from spdx_tools.spdx.model import (
    Actor, ActorType, CreationInfo, Document, ExternalPackageRef, ExternalPackageRefCategory,
    Package, PackagePurpose, Relationship, RelationshipType)
from spdx_tools.spdx.model.spdx_no_assertion import SpdxNoAssertion
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document
from spdx_tools.spdx.writer.json.json_writer import write_document_to_stream

from bundler.sbom.cyclonedx import TOOL_NAME, oci_purl, utc
from bundler.sbom.errors import SBOMError
from bundler.sbom.model import Catalog, Component

NAMESPACE_BASE = "https://stella-ops.invalid/spdx/image"


def document_namespace(image_digest: str) -> str:
    """A namespace unique to the image (the digest), identical on every rebuild."""
    return f"{NAMESPACE_BASE}/{image_digest.replace(':', '-')}"


def _declared(licenses: tuple[str, ...]) -> tuple[object, str | None]:
    if not licenses:
        return SpdxNoAssertion(), None
    text = " AND ".join(f"({x})" if " " in x else x for x in licenses)
    try:
        info = spdx_licensing.validate(text, strict=True)
    except (ValueError, AttributeError):
        # license-expression's validator can itself fail (AttributeError) on free text
        # such as "Apache License, Version 2.0": keep the text as a comment instead.
        return SpdxNoAssertion(), "declared: " + "; ".join(licenses)
    if info.errors or info.invalid_symbols:
        return SpdxNoAssertion(), "declared: " + "; ".join(licenses)
    return spdx_licensing.parse(text), None


def _purl_ref(purl: str) -> list[ExternalPackageRef]:
    return [ExternalPackageRef(ExternalPackageRefCategory.PACKAGE_MANAGER, "purl", purl)]


def _package(comp: Component, index: int) -> Package:
    declared, comment = _declared(comp.licenses)
    return Package(spdx_id=f"SPDXRef-Package-{index}", name=comp.name, version=comp.version,
                   download_location=SpdxNoAssertion(), files_analyzed=False,
                   license_concluded=SpdxNoAssertion(), license_declared=declared,
                   license_comment=comment, copyright_text=SpdxNoAssertion(),
                   external_references=_purl_ref(comp.purl),
                   comment=f"layer {comp.layer}; path {comp.path}; cataloger {comp.cataloger}")


_VALIDATE_BLOCK = 64


def _validate(info: CreationInfo, image: Package, packages: list[Package],
              relationships: list[Relationship]) -> list[object]:
    """spdx-tools' full validation, run on blocks of packages.

    Its checks look every SPDX id up in the whole document, which is quadratic (0.7 s for
    800 packages). Each block document holds the image, a block of packages and exactly
    their relationships, so every per-element and cross-reference check sees what it
    would see in the whole document; ids are unique by construction (checked here).
    """
    ids = ["SPDXRef-DOCUMENT", image.spdx_id, *(p.spdx_id for p in packages)]
    if len(set(ids)) != len(ids):
        return ["duplicate SPDX ids"]
    describes, contains = relationships[0], relationships[1:]
    messages: list[object] = []
    for start in range(0, max(len(packages), 1), _VALIDATE_BLOCK):
        block = Document(creation_info=info, packages=[image, *packages[start:start + _VALIDATE_BLOCK]],
                         relationships=[describes, *contains[start:start + _VALIDATE_BLOCK]])
        messages += [m for m in validate_full_spdx_document(block) if m not in messages]
    return messages


def to_spdx(catalog: Catalog, created: datetime) -> bytes:
    """SPDX 2.3 JSON bytes for *catalog* (sorted keys, compact, UTF-8).

    Raises:
        SBOMError: spdx-tools' validation rejects the document.
    """
    subject = catalog.subject
    info = CreationInfo(spdx_version="SPDX-2.3", spdx_id="SPDXRef-DOCUMENT",
                        name=f"{subject.repository}@{subject.digest}",
                        document_namespace=document_namespace(subject.digest),
                        creators=[Actor(ActorType.TOOL, f"{TOOL_NAME}-{catalog.cataloger_version}")],
                        created=utc(created).replace(tzinfo=None))
    image = Package(spdx_id="SPDXRef-Image", name=subject.repository, version=subject.digest,
                    download_location=SpdxNoAssertion(), files_analyzed=False,
                    license_concluded=SpdxNoAssertion(), license_declared=SpdxNoAssertion(),
                    copyright_text=SpdxNoAssertion(), external_references=_purl_ref(oci_purl(catalog)),
                    primary_package_purpose=PackagePurpose.CONTAINER)
    packages = [_package(c, i) for i, c in enumerate(catalog.components)]
    relationships = [Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, "SPDXRef-Image")]
    relationships += [Relationship("SPDXRef-Image", RelationshipType.CONTAINS, p.spdx_id)
                      for p in packages]
    doc = Document(creation_info=info, packages=[image, *packages], relationships=relationships)
    messages = _validate(info, image, packages, relationships)
    if messages:
        raise SBOMError(f"image {subject}: SPDX document is invalid: {messages}",
                        kind="invalid-sbom", entry=str(subject))
    out = io.StringIO()
    write_document_to_stream(doc, out, validate=False)
    return json.dumps(json.loads(out.getvalue()), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")
