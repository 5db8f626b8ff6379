"""Components from CycloneDX JSON SBOMs (and SPDX 2 JSON ones: a vendor's SBOM may be SPDX).

Every component (nested ones too) with a purl becomes a ``Component``. Its location is
the image the SBOM describes (``metadata.component``: its purl when that is a
``pkg:oci/…`` purl, otherwise its name and version) and the layer, read from the
component's properties whose name mentions a layer (Syft ``syft:location:0:layerID``,
Trivy ``aquasecurity:trivy:LayerDigest``, or ``stella:layer``). A component without a
purl, or with a purl that cannot be read, is skipped and reported; the same purl seen
in several places becomes one component with all its locations.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from packageurl import PackageURL

from kit.canonical import CanonicalJSONError, loads
from kit.findings.component import Component, Location, component_from_purl
from kit.findings.errors import FindingsError, FindingsFormatError, Problem
from kit.findings.loader import iter_documents


def _object(value: Any) -> dict[str, Any]:
    """*value* when it is a JSON object, else an empty one (an absent block reads as empty)."""
    return value if isinstance(value, dict) else {}


def _image_of(bom: dict[str, Any]) -> str:
    main = _object(_object(bom.get("metadata")).get("component"))
    purl = main.get("purl")
    if isinstance(purl, str) and purl.startswith("pkg:oci/"):
        return purl
    name, version = main.get("name"), main.get("version")
    if isinstance(name, str) and name:
        return f"{name}@{version}" if isinstance(version, str) and version else name
    return ""


def _layer_of(component: dict[str, Any]) -> str:
    properties = component.get("properties")
    if not isinstance(properties, list):
        return ""
    layers = sorted(str(p.get("value", "")) for p in properties if isinstance(p, dict)
                    and "layer" in str(p.get("name", "")).lower() and p.get("value"))
    return layers[0] if layers else ""


def _walk(items: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(items, list):
        return
    for item in items:
        if isinstance(item, dict):
            yield item
            yield from _walk(item.get("components"))


def check_components(bom: dict[str, Any], file: str) -> None:
    """Refuse a document that says CycloneDX but holds no usable components list.

    ``components`` must be a list of objects. Its absence reads as "nothing inside" only
    when the document names its subject (``metadata.component``) and its dependency graph
    gives that subject no ``dependsOn`` — what stella-bundler writes for an empty image;
    any other document without the list is refused, never read as "0 components, clean"
    (docs/findings.md).
    """
    components = bom.get("components")
    if components is not None:
        if not isinstance(components, list):
            raise FindingsFormatError(f"{file}: components is a {type(components).__name__}, not a list",
                                      entry=file)
        bad = next((n for n, c in enumerate(components) if not isinstance(c, dict)), None)
        if bad is not None:
            raise FindingsFormatError(f"{file}: components[{bad}] is not an object", entry=file)
        return
    subject = _object(_object(bom.get("metadata")).get("component"))
    ref = subject.get("bom-ref")
    graph = bom.get("dependencies", [])
    empty = bool(subject) and isinstance(graph, list) and not any(
        isinstance(d, dict) and d.get("dependsOn") and (ref is None or d.get("ref") == ref) for d in graph)
    if not empty:
        raise FindingsFormatError(f"{file}: a CycloneDX document with no components list (an SBOM of an "
                                  "empty subject names it in metadata.component with no dependencies)",
                                  entry=file)


def components_from_bom(bom: Any, file: str) -> tuple[list[Component], list[Problem]]:
    """Components of one CycloneDX document and the problems met reading it.

    Raises:
        FindingsFormatError: not CycloneDX, or no usable components list (``check_components``).
    """
    if not isinstance(bom, dict) or bom.get("bomFormat") != "CycloneDX":
        raise FindingsFormatError(f"{file}: not a CycloneDX JSON document", entry=file)
    check_components(bom, file)
    image = _image_of(bom)
    found: list[Component] = []
    problems: list[Problem] = []
    for item in _walk(bom.get("components")):
        record = str(item.get("bom-ref") or item.get("name") or "?")
        purl = item.get("purl")
        if not isinstance(purl, str) or not purl:
            problems.append(Problem(file, record, "component has no purl; not matched"))
            continue
        location = Location(image, _layer_of(item))
        given = item.get("version")
        version = given if isinstance(given, str) else ""
        try:
            found.append(component_from_purl(purl, version, (location,)))
        except FindingsError as exc:
            problems.append(Problem(file, record, exc.message))
    return found, problems


def _spdx_purl(package: dict[str, Any]) -> str | None:
    refs = package.get("externalRefs")
    for ref in refs if isinstance(refs, list) else []:
        if isinstance(ref, dict) and ref.get("referenceType") == "purl" \
                and isinstance(ref.get("referenceLocator"), str) and ref["referenceLocator"]:
            return str(ref["referenceLocator"])
    return None


def _spdx_image(doc: dict[str, Any], packages: list[dict[str, Any]]) -> str:
    described = doc.get("documentDescribes")
    ids = set(described) if isinstance(described, list) else set()
    rels = doc.get("relationships")
    ids |= {r.get("relatedSpdxElement") for r in (rels if isinstance(rels, list) else [])
            if isinstance(r, dict) and r.get("relationshipType") == "DESCRIBES"}
    for package in packages:
        if package.get("SPDXID") in ids:
            purl = _spdx_purl(package)
            if purl and purl.startswith("pkg:oci/"):
                return purl
            name, version = package.get("name"), package.get("versionInfo")
            if isinstance(name, str) and name:
                return f"{name}@{version}" if isinstance(version, str) and version else name
    return ""


def components_from_spdx(doc: Any, file: str) -> tuple[list[Component], list[Problem]]:
    """Components of one SPDX 2.x JSON document: each package with a ``purl`` external
    reference (the package the document describes, the image, is its location)."""
    if not isinstance(doc, dict) or not str(doc.get("spdxVersion", "")).startswith("SPDX-2."):
        raise FindingsFormatError(f"{file}: not an SPDX 2 JSON document", entry=file)
    listed = doc.get("packages")
    if not isinstance(listed, list) or not all(isinstance(p, dict) for p in listed):
        raise FindingsFormatError(f"{file}: an SPDX document needs a packages list of objects "
                                  "(without one there is nothing to match)", entry=file)
    packages: list[dict[str, Any]] = listed
    image = _spdx_image(doc, packages)
    found: list[Component] = []
    problems: list[Problem] = []
    for package in packages:
        purl = _spdx_purl(package)
        if purl is None or purl.startswith("pkg:oci/"):
            continue              # files, the image itself: nothing to match
        given = package.get("versionInfo")
        try:
            found.append(component_from_purl(purl, given if isinstance(given, str) else "",
                                             (Location(image, ""),)))
        except FindingsError as exc:
            problems.append(Problem(file, str(package.get("SPDXID") or "?"), exc.message))
    return found, problems


def components_from_document(doc: Any, file: str) -> tuple[list[Component], list[Problem]]:
    """Components of a CycloneDX or SPDX 2 JSON document (told by its content)."""
    if isinstance(doc, dict) and "spdxVersion" in doc:
        return components_from_spdx(doc, file)
    return components_from_bom(doc, file)


def _purl_key(purl: str) -> str:
    """The purl as packageurl writes it, so one package named by two SBOMs (ours and its
    vendor's, qualifiers in another order) is one component."""
    try:
        return str(PackageURL.from_string(purl).to_string())
    except ValueError:
        return purl


def merge_components(components: Iterable[Component]) -> tuple[Component, ...]:
    """One component per (purl, version), purls compared as packageurl writes them,
    locations unioned, sorted by purl."""
    merged: dict[tuple[str, str], Component] = {}
    for comp in components:
        key = (_purl_key(comp.purl), comp.version)
        if key in merged:
            old = merged[key]
            locations = tuple(sorted(set(old.locations) | set(comp.locations)))
            comp = replace(old, locations=locations)
        merged[key] = comp
    return tuple(merged[k] for k in sorted(merged))


def load_sboms(paths: Iterable[Path]) -> tuple[tuple[Component, ...], tuple[Problem, ...]]:
    """Components of every CycloneDX JSON file under *paths*.

    Raises:
        FindingsIOError: a path cannot be read.
        FindingsFormatError: a file is not JSON or not CycloneDX (an unreadable SBOM
            is refused as a whole: matching half of it would hide findings).
    """
    components: list[Component] = []
    problems: list[Problem] = []
    for path in paths:
        for name, data in iter_documents(path, "SBOM"):
            try:
                bom = loads(data, allow_floats=True)
            except CanonicalJSONError as exc:
                raise FindingsFormatError(f"{name}: {exc}", entry=name) from None
            comps, probs = components_from_document(bom, name)
            components.extend(comps)
            problems.extend(probs)
    return merge_components(components), tuple(sorted(problems))
