"""SPDX 2.3 JSON for a catalog, checked while writing, byte-deterministic.

Rendered directly: plain dicts dumped once, with the same bytes as the spdx-tools based
writer in ``bundler.sbom.reference``, which the tests keep as the oracle
(docs/adr/0004-sbom-direct-renderer.md). The document namespace is derived from the
image digest, ``created`` is passed in, SPDX ids follow the sorted component order.
Licenses that are not a valid SPDX expression become NOASSERTION, with the declared text
kept in the package's license comment; the decision and the written expression are
license-expression's (``spdx_licensing``, as spdx-tools uses it), made once per distinct
license tuple.

Every document is checked before it is returned, in linear time, with the checks of
spdx-tools' validator that can fail for what a catalog holds (the rest is constant):
SPDX ids well formed and unique, relationships between known ids, the namespace an
absolute URI, purl locators matching spdx-tools' purl pattern, and each declared
license expression re-validated as spdx-tools does. The tests also run spdx-tools' own
full validator on the output.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache, lru_cache
from typing import Any

from bundler.sbom.cyclonedx import TOOL_NAME, dumps, oci_purl, utc
from bundler.sbom.errors import InvalidSBOM
from bundler.sbom.model import Catalog

NAMESPACE_BASE = "https://stella-ops.invalid/spdx/image"
NOASSERTION = "NOASSERTION"
# spdx-tools' patterns (spdx_tools.spdx.validation: external_package_ref_validator.PURL_REGEX
# and spdx_id_validators.is_valid_internal_spdx_id); tests check they are still the same.
PURL_REGEX = r"^pkg:.+(\/.+)?\/.+(@.+)?(\?.+)?(#.+)?$"
SPDX_ID_REGEX = r"^SPDXRef-[\da-zA-Z.-]+$"
_PURL = re.compile(PURL_REGEX)
_SPDX_ID = re.compile(SPDX_ID_REGEX)


def document_namespace(image_digest: str) -> str:
    """A namespace unique to the image (the digest), identical on every rebuild."""
    return f"{NAMESPACE_BASE}/{image_digest.replace(':', '-')}"


@cache
def _licensing() -> Any:
    # license-expression loads the SPDX license index: import on use.
    from spdx_tools.common.spdx_licensing import spdx_licensing
    return spdx_licensing


def _check_expression(expression: Any) -> list[str]:
    """spdx-tools' ``validate_license_expression`` for a document with no extracted
    licensing info and no external document refs: every non-SPDX symbol is an error."""
    from license_expression import ExpressionError, ExpressionParseError
    licensing = _licensing()
    problems = [f"unrecognized license reference {symbol!r} in {str(expression)!r}"
                for symbol in licensing.validate(expression).invalid_symbols]
    try:
        licensing.parse(str(expression), validate=True, strict=True)
    except ExpressionParseError as exc:
        problems.append(f"{exc} (license expression {str(expression)!r})")
    except ExpressionError:
        pass  # invalid symbols: reported above, as spdx-tools does
    return problems


@lru_cache(maxsize=4096)
def declared_license(licenses: tuple[str, ...]) -> tuple[str | None, str | None, tuple[str, ...]]:
    """``licenseDeclared``, ``licenseComments`` and the validation problems of one license
    tuple (memoized): an AND of the values if that is a valid SPDX expression, as
    license-expression writes it, else NOASSERTION with the text in the comment.

    license-expression parses an empty text to nothing: then there is no
    ``licenseDeclared`` at all, as spdx-tools writes it. Where its validator crashes
    (``IndexError`` on ``( )``), the values are free text, not an error.
    """
    if not licenses:
        return NOASSERTION, None, ()
    comment = "declared: " + "; ".join(licenses)
    licensing = _licensing()
    text = " AND ".join(f"({x})" if " " in x else x for x in licenses)
    try:
        info = licensing.validate(text, strict=True)
    except Exception:  # noqa: BLE001 - any crash inside license-expression: not an expression
        # license-expression's validator can itself fail (AttributeError) on free text
        # such as "Apache License, Version 2.0": keep the text as a comment instead.
        return NOASSERTION, comment, ()
    if info.errors or info.invalid_symbols:
        return NOASSERTION, comment, ()
    expression = licensing.parse(text)
    if expression is None:
        return None, None, ()
    return str(expression), None, tuple(_check_expression(expression))


def _package(spdx_id: str, name: str, version: str | None, purl: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "SPDXID": spdx_id, "name": name, "copyrightText": NOASSERTION, "downloadLocation": NOASSERTION,
        "externalRefs": [{"referenceCategory": "PACKAGE_MANAGER", "referenceLocator": purl,
                          "referenceType": "purl"}],
        "filesAnalyzed": False, "licenseConcluded": NOASSERTION}
    if version is not None:
        out["versionInfo"] = version
    return out


def _relationship(source: str, kind: str, target: str) -> dict[str, str]:
    return {"spdxElementId": source, "relationshipType": kind, "relatedSpdxElement": target}


def _problems(namespace: str, packages: list[dict[str, Any]], relationships: list[dict[str, str]],
              license_problems: list[str]) -> list[str]:
    """What spdx-tools' validator would find in this document (see the module doc)."""
    from uritools import isabsuri, urisplit
    problems = []
    if not isabsuri(namespace) or urisplit(namespace).scheme is None:
        problems.append(f"document namespace {namespace!r} is not an absolute URI without a fragment")
    ids = {"SPDXRef-DOCUMENT"}
    for package in packages:
        spdx_id = package["SPDXID"]
        if spdx_id in ids or not _SPDX_ID.match(spdx_id):
            problems.append(f"SPDX id {spdx_id!r} is malformed or not unique")
        ids.add(spdx_id)
        for ref in package["externalRefs"]:
            if not _PURL.match(ref["referenceLocator"]):
                problems.append(f"{spdx_id}: purl {ref['referenceLocator']!r} does not match {PURL_REGEX}")
    for rel in relationships:
        if rel["spdxElementId"] not in ids or rel["relatedSpdxElement"] not in ids:
            problems.append(f"relationship {rel} names an unknown SPDX id")
    return problems + license_problems


def to_spdx(catalog: Catalog, created: datetime) -> bytes:
    """SPDX 2.3 JSON bytes for *catalog* (sorted keys, compact, UTF-8).

    Raises:
        SBOMError: the document would not pass spdx-tools' validation (``invalid-sbom``).
    """
    subject = catalog.subject
    namespace = document_namespace(subject.digest)
    image = _package("SPDXRef-Image", subject.repository, subject.digest, oci_purl(catalog))
    image["licenseDeclared"] = NOASSERTION
    image["primaryPackagePurpose"] = "CONTAINER"
    packages = [image]
    relationships = [_relationship("SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Image")]
    license_problems: list[str] = []
    for index, comp in enumerate(catalog.components):
        spdx_id = f"SPDXRef-Package-{index}"
        package = _package(spdx_id, comp.name, comp.version, comp.purl)
        declared, comment, comp_problems = declared_license(comp.licenses)
        if declared is not None:
            package["licenseDeclared"] = declared
        if comment is not None:
            package["licenseComments"] = comment
        package["comment"] = f"layer {comp.layer}; path {comp.path}; cataloger {comp.cataloger}"
        license_problems += [f"{spdx_id}: {p}" for p in comp_problems]
        packages.append(package)
        relationships.append(_relationship("SPDXRef-Image", "CONTAINS", spdx_id))
    problems = _problems(namespace, packages, relationships, license_problems)
    if problems:
        raise InvalidSBOM(f"image {subject}: SPDX document is invalid: {'; '.join(problems[:5])}"
                        + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""),
                        entry=str(subject))
    return dumps({
        "SPDXID": "SPDXRef-DOCUMENT",
        "creationInfo": {"created": utc(created).replace(tzinfo=None).isoformat() + "Z",
                         "creators": [f"Tool: {TOOL_NAME}-{catalog.cataloger_version}"]},
        "dataLicense": "CC0-1.0",
        "documentNamespace": namespace,
        "name": f"{subject.repository}@{subject.digest}",
        "packages": packages,
        "relationships": relationships,
        "spdxVersion": "SPDX-2.3",
    })
