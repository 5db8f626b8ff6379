"""CycloneDX JSON (1.7 by default, 1.6 on request) for a catalog, byte-deterministic.

Rendered directly: plain dicts dumped once, with the same bytes as the library-based
writer in ``bundler.sbom.reference`` (cyclonedx-python-lib), which the tests keep as the
oracle (docs/adr/0004-sbom-direct-renderer.md). What that writer does, and this one
copies:

- license decisions are the library's own functions (``cyclonedx.spdx.fixup_id`` and
  ``is_expression``, as ``LicenseFactory`` uses them), made once per distinct license
  tuple: one value is an SPDX id, else an SPDX expression, else a named license; several
  values are each an id or a name (never an expression);
- the library keeps licenses, components, properties and dependencies in sorted sets:
  licenses with an id (by id) before named ones (by name), duplicates dropped;
  components by (name, version, bom-ref); properties by name; dependencies by ref;
- the ``purl`` written is the purl re-parsed and re-serialised by packageurl (it
  normalises, e.g. pypi names and qualifier order), the bom-ref is the purl as cataloged;
- None values are left out, empty strings kept; keys sorted, no whitespace, UTF-8.

Determinism: the serial number is a uuid5 of the image digest, the timestamp is passed
in (the kit's ``created``), components are sorted.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import Any

from packageurl import PackageURL

from bundler.sbom.errors import BadSBOMOption, InvalidSBOM
from bundler.sbom.model import Catalog, Component

SPEC_VERSIONS = {"1.7": "http://cyclonedx.org/schema/bom-1.7.schema.json",
                 "1.6": "http://cyclonedx.org/schema/bom-1.6.schema.json"}
SERIAL_NAMESPACE = uuid.UUID("5b6f1d64-3c57-4c52-9b1e-7d1b8a9e0c11")  # fixed for this project
TOOL_NAME = "stella-bundler"


def serial_number(image_digest: str) -> uuid.UUID:
    """The BOM serial number: the same image always gets the same one."""
    return uuid.uuid5(SERIAL_NAMESPACE, image_digest)


def utc(created: datetime) -> datetime:
    """*created* in UTC without microseconds (naive values are taken as UTC)."""
    aware = created if created.tzinfo else created.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(microsecond=0)


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


def bom_refs(components: tuple[Component, ...], root: str | None = None) -> list[str]:
    """Unique refs: the purl, with ``#N`` added when the same purl is found again.

    N counts the earlier occurrences, skipping any ref already taken (a purl that itself
    ends in ``#N``, or the image's own purl *root*), so refs never collide: the library
    would otherwise replace colliding refs with random ones.
    """
    taken = {c.purl for c in components}
    if root is not None:
        taken.add(root)
    counts: dict[str, int] = {}
    if root is not None:
        counts[root] = 1  # the image holds the plain ref
    refs = []
    for comp in components:
        n = counts.get(comp.purl, 0)
        ref = comp.purl
        if n:
            while f"{comp.purl}#{n}" in taken:
                n += 1
            ref = f"{comp.purl}#{n}"
            taken.add(ref)
        counts[comp.purl] = n + 1
        refs.append(ref)
    return refs


@cache
def _license_tests() -> tuple[Any, Any]:
    # cyclonedx.spdx loads the SPDX id list and license-expression's index: import on use.
    from cyclonedx.spdx import fixup_id, is_expression
    return fixup_id, is_expression


def _named(value: str) -> dict[str, Any]:
    if not value:  # the library refuses a license with neither id nor name
        raise ValueError("an empty license name")
    return {"license": {"name": value}}


@lru_cache(maxsize=4096)
def license_entries(values: tuple[str, ...]) -> tuple[dict[str, Any], ...]:
    """The ``licenses`` array for one license tuple, as the library writes it (memoized).

    Raises:
        ValueError: a license that the library cannot write (an empty name among several).
    """
    fixup_id, is_expression = _license_tests()
    if not values:
        return ()
    if len(values) == 1:
        value = values[0]
        spdx_id = fixup_id(value)
        if spdx_id is not None:
            return ({"license": {"id": spdx_id}},)
        if is_expression(value):
            return ({"expression": value},)
        return (_named(value),)
    ids, names = set(), set()
    for value in values:
        spdx_id = fixup_id(value)
        if spdx_id is not None:
            ids.add(spdx_id)
        else:
            _named(value)
            names.add(value)
    return (tuple({"license": {"id": x}} for x in sorted(ids))
            + tuple({"license": {"name": x}} for x in sorted(names)))


@lru_cache(maxsize=1 << 16)
def canonical_purl(purl: str) -> str:
    """*purl* as packageurl re-serialises it (what the library writes as ``purl``).

    Memoized: images that share a base layer share most purls, and parsing is most of
    the renderer's time.

    Raises:
        ValueError: *purl* does not parse.
    """
    return PackageURL.from_string(purl).to_string()


def _component(comp: Component, ref: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "bom-ref": ref, "name": comp.name, "purl": canonical_purl(comp.purl), "type": "library",
        "properties": [{"name": "stella:cataloger", "value": comp.cataloger},
                       {"name": "stella:layer", "value": comp.layer},
                       {"name": "stella:path", "value": comp.path}]}
    if comp.version is not None:
        out["version"] = comp.version
    licenses = license_entries(comp.licenses)
    if licenses:
        out["licenses"] = licenses
    return out


def _order(part: dict[str, Any]) -> tuple[Any, ...]:
    # The library's component order: (type, group, name, version, bom-ref, …), None after
    # any value; type and group are the same for all and bom-refs are unique.
    version = part.get("version")
    return part["name"], version is None, version or "", part["bom-ref"]


def dumps(doc: dict[str, Any]) -> bytes:
    """The one JSON form of every SBOM: sorted keys, no whitespace, UTF-8."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def to_cyclonedx(catalog: Catalog, created: datetime, spec_version: str = "1.7") -> bytes:
    """CycloneDX JSON bytes for *catalog* (sorted keys, compact, UTF-8).

    Raises:
        SBOMError: *spec_version* is not 1.7 or 1.6 (``bad-option``); a component's purl
            does not parse or it declares an empty license name (``invalid-sbom``).
    """
    if spec_version not in SPEC_VERSIONS:
        raise BadSBOMOption(f"CycloneDX spec version {spec_version!r} is not supported "
                            f"(use {' or '.join(SPEC_VERSIONS)})")
    subject = catalog.subject
    purl = oci_purl(catalog)
    refs = bom_refs(catalog.components, purl)
    parts = []
    for comp, ref in zip(catalog.components, refs):
        try:
            parts.append(_component(comp, ref))
        except ValueError as exc:
            raise InvalidSBOM(f"image {subject}: component {comp.purl!r} cannot be written: {exc}",
                              entry=str(subject)) from exc
    parts.sort(key=_order)
    dependencies: list[dict[str, Any]] = [{"ref": ref} for ref in refs]
    root_dependency: dict[str, Any] = {"ref": purl}
    if refs:
        root_dependency["dependsOn"] = sorted(refs)
    dependencies.append(root_dependency)
    dependencies.sort(key=lambda d: d["ref"])
    doc: dict[str, Any] = {
        "$schema": SPEC_VERSIONS[spec_version],
        "bomFormat": "CycloneDX",
        "dependencies": dependencies,
        "metadata": {
            "component": {"bom-ref": purl, "name": subject.repository, "purl": canonical_purl(purl),
                          "type": "container", "version": subject.digest},
            "timestamp": utc(created).isoformat(),
            "tools": {"components": [{"name": TOOL_NAME, "type": "application",
                                      "version": catalog.cataloger_version}]},
        },
        "serialNumber": serial_number(subject.digest).urn,
        "specVersion": spec_version,
        "version": 1,
    }
    if parts:
        doc["components"] = parts
    return dumps(doc)
