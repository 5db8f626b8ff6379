"""The library-based SBOM writers: the reference the direct renderer must match byte for byte.

``to_cyclonedx`` builds a cyclonedx-python-lib ``Bom`` and ``to_spdx`` an spdx-tools
``Document`` (validated with spdx-tools' full validator), and both re-dump the library's
JSON with sorted keys and no whitespace. They are exact but slow (per-component model
objects in sorted sets, license parsing per component, py_serializable, a second JSON
pass: about 0.6 s and 0.25 s for 800 components), so the product renders with
``bundler.sbom.cyclonedx.to_cyclonedx`` and ``bundler.sbom.spdx.to_spdx`` instead, and
the tests check that those give the same bytes as these (docs/adr/0004-sbom-direct-renderer.md).
The CycloneDX renderer also falls back to this one for catalogs whose bom-refs collide.
"""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from cyclonedx.contrib.license.exceptions import InvalidSpdxLicenseException
from cyclonedx.contrib.license.factories import LicenseFactory
from cyclonedx.model import Property
from cyclonedx.model.bom import Bom
from cyclonedx.model.component import Component as CdxComponent, ComponentType
from cyclonedx.model.dependency import Dependency
from cyclonedx.model.license import License
from cyclonedx.output import make_outputter
from cyclonedx.schema import OutputFormat, SchemaVersion
from packageurl import PackageURL
from spdx_tools.common.spdx_licensing import spdx_licensing

# from the defining modules: spdx_tools.spdx.model's __init__ re-exports only implicitly
from spdx_tools.spdx.model.actor import Actor, ActorType
from spdx_tools.spdx.model.document import CreationInfo, Document
from spdx_tools.spdx.model.package import ExternalPackageRef, ExternalPackageRefCategory, Package, PackagePurpose
from spdx_tools.spdx.model.relationship import Relationship, RelationshipType
from spdx_tools.spdx.model.spdx_no_assertion import SpdxNoAssertion
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document
from spdx_tools.spdx.writer.json.json_writer import write_document_to_stream

from bundler.sbom.cyclonedx import SPEC_VERSIONS, TOOL_NAME, bom_refs, oci_purl, serial_number, utc
from bundler.sbom.errors import BadSBOMOption, InvalidSBOM
from bundler.sbom.model import Catalog, Component
from bundler.sbom.spdx import document_namespace

SCHEMA_VERSIONS = {"1.7": SchemaVersion.V1_7, "1.6": SchemaVersion.V1_6}
assert set(SCHEMA_VERSIONS) == set(SPEC_VERSIONS)


# --- CycloneDX (cyclonedx-python-lib) ---------------------------------------------------

def _licenses(values: tuple[str, ...]) -> list[License]:
    factory = LicenseFactory()
    if len(values) == 1:
        try:
            return [factory.make_from_string(values[0])]
        except (ValueError, AttributeError, InvalidSpdxLicenseException):
            # Free-text licenses such as "Apache License, Version 2.0" (common in Python
            # metadata) make license-expression's validator fail, in some versions with an
            # AttributeError from inside the library: keep them as a named license.
            return [factory.make_with_name(values[0])]
    out: list[License] = []
    for value in values:  # several: each must be a plain license, not an expression
        try:
            out.append(factory.make_with_id(value))
        except InvalidSpdxLicenseException:
            out.append(factory.make_with_name(value))
    return out


def _component(comp: Component, bom_ref: str) -> CdxComponent:
    props = [Property(name="stella:layer", value=comp.layer),
             Property(name="stella:path", value=comp.path),
             Property(name="stella:cataloger", value=comp.cataloger)]
    return CdxComponent(name=comp.name, version=comp.version, type=ComponentType.LIBRARY,
                        purl=PackageURL.from_string(comp.purl), bom_ref=bom_ref,
                        licenses=_licenses(comp.licenses), properties=props)


def _index_dependencies(bom: Bom) -> None:
    """Make ``bom.register_dependency`` find registered refs by dict, not by a scan.

    The library looks each target up with a linear search of every dependency, and its
    output validation registers every component again: quadratic (0.5 s for 800
    components). This instance-level replacement keeps its exact logic and results.
    """
    index = {d.ref: d for d in bom.dependencies}

    def register_dependency(target: Any, depends_on: Iterable[Any] | None = None) -> None:
        found = index.get(target.bom_ref)
        if found is not None:
            if depends_on:
                found.dependencies.update(Dependency(ref=d.bom_ref) for d in depends_on)
        else:
            dep = Dependency(ref=target.bom_ref,
                             dependencies=[Dependency(ref=d.bom_ref) for d in depends_on]
                             if depends_on else [])
            bom.dependencies.add(dep)
            index[dep.ref] = dep
        if depends_on:
            for d2 in depends_on:
                register_dependency(d2)

    bom.register_dependency = register_dependency  # type: ignore[method-assign]  # deliberate, this Bom only


def to_cyclonedx(catalog: Catalog, created: datetime, spec_version: str = "1.7") -> bytes:
    """CycloneDX JSON bytes for *catalog* (sorted keys, compact, UTF-8), via the library.

    Raises:
        SBOMError: *spec_version* is not 1.7 or 1.6.
    """
    if spec_version not in SCHEMA_VERSIONS:
        raise BadSBOMOption(f"CycloneDX spec version {spec_version!r} is not supported "
                        f"(use {' or '.join(SCHEMA_VERSIONS)})")
    bom = Bom(serial_number=serial_number(catalog.subject.digest))
    bom.metadata.timestamp = utc(created)
    purl = oci_purl(catalog)
    root = CdxComponent(name=catalog.subject.repository, version=catalog.subject.digest,
                        type=ComponentType.CONTAINER, bom_ref=purl,
                        purl=PackageURL.from_string(purl))
    bom.metadata.component = root
    bom.metadata.tools.components.add(CdxComponent(
        name=TOOL_NAME, version=catalog.cataloger_version, type=ComponentType.APPLICATION))
    parts = [_component(c, ref) for c, ref in zip(catalog.components, bom_refs(catalog.components, purl))]
    for part in parts:
        bom.components.add(part)
    _index_dependencies(bom)
    bom.register_dependency(root, parts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        text = make_outputter(bom, OutputFormat.JSON, SCHEMA_VERSIONS[spec_version]
                              ).output_as_string(indent=None)
    return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


# --- SPDX 2.3 (spdx-tools) ---------------------------------------------------------------

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
    """SPDX 2.3 JSON bytes for *catalog* (sorted keys, compact, UTF-8), via spdx-tools.

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
        raise InvalidSBOM(f"image {subject}: SPDX document is invalid: {messages}",
                        entry=str(subject))
    out = io.StringIO()
    write_document_to_stream(doc, out, validate=False)
    return json.dumps(json.loads(out.getvalue()), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


__all__ = ["SCHEMA_VERSIONS", "to_cyclonedx", "to_spdx"]
