"""SPDX 3.0.1 JSON-LD for a catalog, written with spdx-python-model, byte-deterministic.

The document is built from the library's model objects (``spdx_python_model.v3_0_1``) and
serialized by its ``JSONLDSerializer``; the library checks every value as it is set
(types, patterns, closed enums) and every cardinality as it encodes. Its JSON data is then
dumped once more the project's way (sorted keys, compact, UTF-8), so the bytes depend only
on the catalog and ``created``.

Layout (docs/sbom.md, "SPDX 3.0.1"):

- every ``spdxId`` is ``<namespace>#SPDXRef-…`` with the SPDX 2.3 document namespace of the
  image digest (``https://stella-ops.invalid/spdx/image/sha256-<hex>``), so ids never
  depend on the run; components keep their SPDX 2.3 ids (``SPDXRef-Package-N``, in the
  sorted catalog order);
- one blank-node ``CreationInfo`` (spec version 3.0.1, ``created`` in UTC seconds, created
  by the ``SoftwareAgent`` stella-bundler using the ``Tool`` named as SPDX 2.3's creator,
  ``stella-bundler-<cataloger version>``);
- the ``SpdxDocument`` (data license CC0-1.0) whose root element is the image, a
  ``software_Package`` with primary purpose ``container``, its version the manifest digest
  and its package URL the ``pkg:oci`` purl; ``describes`` image; image ``contains`` every
  component (one relationship, ``to`` in catalog order);
- a ``software_Package`` per component: name, ``software_packageVersion``,
  ``software_packageUrl`` (the purl as cataloged) and a comment naming layer, path and
  cataloger (as in SPDX 2.3);
- declared licenses, decided exactly as for SPDX 2.3 (``bundler.sbom.spdx.declared_license``):
  an AND of the values that is a valid SPDX expression becomes a
  ``simplelicensing_LicenseExpression`` (one per distinct expression) linked by
  ``hasDeclaredLicense``; free text that is no valid expression links to
  ``expandedlicensing_NoAssertionLicense`` with the declared text as the relationship's
  comment (``declared: …``, the SPDX 2.3 ``licenseComments``); a component without
  license information gets no license relationship (in SPDX 3, no relationship asserts
  nothing).

A catalog is refused (``invalid-sbom``) where SPDX 2.3 refuses it too: a purl that does not
match spdx-tools' purl pattern, a declared expression spdx-tools would reject; and wherever
the model refuses a value.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from typing import Any

from bundler.sbom.cyclonedx import TOOL_NAME, dumps, oci_purl, utc
from bundler.sbom.errors import InvalidSBOM, SBOMError
from bundler.sbom.model import Catalog
from bundler.sbom.spdx import NOASSERTION, PURL_REGEX, declared_license, document_namespace

SPEC_VERSION = "3.0.1"
CONTEXT = "https://spdx.org/rdf/3.0.1/spdx-context.jsonld"
DATA_LICENSE = "CC0-1.0"
_PURL = re.compile(PURL_REGEX)   # the purl check of SPDX 2.3 (spdx-tools' pattern)
_Element = Any   # an spdx-python-model object: the generated bindings carry no annotations


@lru_cache(maxsize=1)
def model() -> Any:
    """The SPDX 3.0.1 bindings (a large module: imported on first use)."""
    from spdx_python_model import v3_0_1
    return v3_0_1


def library_version() -> str:
    """spdx-python-model's version (part of the render cache key)."""
    from spdx_python_model import VERSION
    return str(VERSION)


def _invalid(catalog: Catalog, problems: list[str]) -> SBOMError:
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    return InvalidSBOM(f"image {catalog.subject}: SPDX 3 document is invalid: {'; '.join(problems[:5])}{more}",
                     entry=str(catalog.subject))


def build(catalog: Catalog, created: datetime) -> Any:
    """The document as a ``SHACLObjectSet`` of spdx-python-model objects.

    Raises:
        SBOMError: a value the model refuses, a purl or license expression SPDX 2.3 would
            refuse (``invalid-sbom``).
    """
    m = model()
    subject = catalog.subject
    base = document_namespace(subject.digest) + "#SPDXRef-"
    try:
        info = m.CreationInfo(specVersion=SPEC_VERSION, created=utc(created))
        agent = m.SoftwareAgent(spdxId=base + "Agent", name=TOOL_NAME, creationInfo=info)
        tool = m.Tool(spdxId=base + "Tool", name=f"{TOOL_NAME}-{catalog.cataloger_version}", creationInfo=info)
        info.createdBy = [agent]
        info.createdUsing = [tool]
        data_license = m.simplelicensing_LicenseExpression(
            spdxId=base + "DataLicense", creationInfo=info, simplelicensing_licenseExpression=DATA_LICENSE)
        image = m.software_Package(
            spdxId=base + "Image", creationInfo=info, name=subject.repository,
            software_packageVersion=subject.digest, software_packageUrl=oci_purl(catalog),
            software_primaryPurpose=m.software_SoftwarePurpose.container)
        document = m.SpdxDocument(
            spdxId=base + "DOCUMENT", creationInfo=info, name=f"{subject.repository}@{subject.digest}",
            dataLicense=data_license, rootElement=[image],
            profileConformance=[m.ProfileIdentifierType.core, m.ProfileIdentifierType.software,
                                m.ProfileIdentifierType.simpleLicensing])
        packages: list[_Element] = []
        relationships: list[_Element] = []
        expressions: dict[str, _Element] = {}     # one per distinct declared expression
        problems: list[str] = []
        no_assertion = False
        for index, comp in enumerate(catalog.components):
            spdx_id = f"Package-{index}"
            package = m.software_Package(
                spdxId=base + spdx_id, creationInfo=info, name=comp.name,
                software_packageUrl=comp.purl,
                comment=f"layer {comp.layer}; path {comp.path}; cataloger {comp.cataloger}")
            if comp.version is not None:
                package.software_packageVersion = comp.version
            packages.append(package)
            if not _PURL.match(comp.purl):
                problems.append(f"SPDXRef-{spdx_id}: purl {comp.purl!r} does not match {PURL_REGEX}")
            declared, comment, license_problems = declared_license(comp.licenses)
            problems += [f"SPDXRef-{spdx_id}: {p}" for p in license_problems]
            if declared is None or (declared == NOASSERTION and comment is None):
                continue
            if declared == NOASSERTION:
                target = m.expandedlicensing_IndividualLicensingInfo.NoAssertionLicense
                no_assertion = True
            else:
                target = expressions.get(declared)
                if target is None:
                    target = expressions[declared] = m.simplelicensing_LicenseExpression(
                        spdxId=f"{base}License-{len(expressions)}", creationInfo=info,
                        simplelicensing_licenseExpression=declared)
            relationship = m.Relationship(
                spdxId=f"{base}Relationship-{spdx_id}-hasDeclaredLicense", creationInfo=info,
                from_=package, relationshipType=m.RelationshipType.hasDeclaredLicense, to=[target])
            if comment is not None:
                relationship.comment = comment
            relationships.append(relationship)
        describes = m.Relationship(
            spdxId=base + "Relationship-DOCUMENT-describes", creationInfo=info, from_=document,
            relationshipType=m.RelationshipType.describes, to=[image])
        elements: list[_Element] = [agent, tool, data_license, image, describes]
        if packages:
            elements.append(m.Relationship(
                spdxId=base + "Relationship-Image-contains", creationInfo=info, from_=image,
                relationshipType=m.RelationshipType.contains, to=packages))
        if no_assertion:
            document.profileConformance.append(m.ProfileIdentifierType.expandedLicensing)
        elements += packages + list(expressions.values()) + relationships
        document.element = elements
    except (TypeError, ValueError) as exc:  # a value the model's checks refuse
        raise _invalid(catalog, [str(exc)]) from None
    if problems:
        raise _invalid(catalog, problems)
    return m.SHACLObjectSet([document, *elements])


def to_spdx3(catalog: Catalog, created: datetime) -> bytes:
    """SPDX 3.0.1 JSON-LD bytes for *catalog* (sorted keys, compact, UTF-8).

    Raises:
        SBOMError: the document would be invalid (``invalid-sbom``).
    """
    objects = build(catalog, created)
    try:
        data = model().JSONLDSerializer().serialize_data(objects, force_at_graph=True)
    except (TypeError, ValueError) as exc:  # a cardinality the encoder refuses
        raise _invalid(catalog, [str(exc)]) from None
    return dumps(data)
