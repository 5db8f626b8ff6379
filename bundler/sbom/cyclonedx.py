"""CycloneDX JSON (1.7 by default, 1.6 on request) for a catalog, byte-deterministic.

Determinism: the serial number is a uuid5 of the image digest, the timestamp is passed
in (the kit's ``created``), components are sorted, and the library's output is
re-dumped with sorted keys and no whitespace.
"""

from __future__ import annotations

import json
import uuid
import warnings
from collections.abc import Iterable
from datetime import datetime, timezone
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

from bundler.sbom.errors import SBOMError
from bundler.sbom.model import Catalog, Component

SPEC_VERSIONS = {"1.7": SchemaVersion.V1_7, "1.6": SchemaVersion.V1_6}
SERIAL_NAMESPACE = uuid.UUID("5b6f1d64-3c57-4c52-9b1e-7d1b8a9e0c11")  # fixed for this project
TOOL_NAME = "stella-bundler"


def serial_number(image_digest: str) -> uuid.UUID:
    """The BOM serial number: the same image always gets the same one."""
    return uuid.uuid5(SERIAL_NAMESPACE, image_digest)


def utc(created: datetime) -> datetime:
    """*created* in UTC without microseconds (naive values are taken as UTC)."""
    aware = created if created.tzinfo else created.replace(tzinfo=timezone.utc)
    return aware.astimezone(timezone.utc).replace(microsecond=0)


def oci_purl(catalog: Catalog) -> str:
    """``pkg:oci/NAME@sha256:…?arch=…&repository_url=HOST/REPO&tag=…`` of the image."""
    subject = catalog.subject
    qualifiers = {"repository_url": subject.name}
    if subject.platform:
        qualifiers["arch"] = subject.platform.split("/")[1]
    if subject.tag:
        qualifiers["tag"] = subject.tag
    name = subject.repository.rsplit("/", 1)[-1].lower()
    return PackageURL("oci", None, name, subject.digest, qualifiers).to_string()


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


def bom_refs(components: tuple[Component, ...]) -> list[str]:
    """Unique refs: the purl, with ``#N`` added when the same purl is found twice."""
    seen: dict[str, int] = {}
    refs = []
    for comp in components:
        n = seen.get(comp.purl, 0)
        seen[comp.purl] = n + 1
        refs.append(comp.purl if n == 0 else f"{comp.purl}#{n}")
    return refs


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

    bom.register_dependency = register_dependency  # type: ignore[method-assign]


def to_cyclonedx(catalog: Catalog, created: datetime, spec_version: str = "1.7") -> bytes:
    """CycloneDX JSON bytes for *catalog* (sorted keys, compact, UTF-8).

    Raises:
        SBOMError: *spec_version* is not 1.7 or 1.6.
    """
    if spec_version not in SPEC_VERSIONS:
        raise SBOMError(f"CycloneDX spec version {spec_version!r} is not supported "
                        f"(use {' or '.join(SPEC_VERSIONS)})", kind="bad-option")
    bom = Bom(serial_number=serial_number(catalog.subject.digest))
    bom.metadata.timestamp = utc(created)
    purl = oci_purl(catalog)
    root = CdxComponent(name=catalog.subject.repository, version=catalog.subject.digest,
                        type=ComponentType.CONTAINER, bom_ref=purl,
                        purl=PackageURL.from_string(purl))
    bom.metadata.component = root
    bom.metadata.tools.components.add(CdxComponent(
        name=TOOL_NAME, version=catalog.cataloger_version, type=ComponentType.APPLICATION))
    parts = [_component(c, ref) for c, ref in zip(catalog.components, bom_refs(catalog.components))]
    for part in parts:
        bom.components.add(part)
    _index_dependencies(bom)
    bom.register_dependency(root, parts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        text = make_outputter(bom, OutputFormat.JSON, SPEC_VERSIONS[spec_version]
                              ).output_as_string(indent=None)
    return json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")
