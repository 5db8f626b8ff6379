"""CycloneDX VEX (a BOM whose ``vulnerabilities[]`` carry an ``analysis``) → VEX statements.

Each vulnerability with ``analysis.state`` is one statement about the products its
``affects[].ref`` name. A ref is resolved through the BOM's own components
(``metadata.component`` and ``components``, nested ones too) by ``bom-ref`` to the
component's purl (else its CPE); a bare purl is taken as it is; a BOM-Link
(``urn:cdx:SERIAL/VERSION#REF``) to another BOM is kept as written, and a purl after its
``#`` is used as the product's purl. A ref that names nothing is refused. States,
justifications and responses map as docs/vex.md lists; a CVSS rating whose vector
disagrees with its score is refused. Every refusal is one ``FindingsFormatError`` whose
message starts with the JSON path.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from packageurl import PackageURL

from kit.findings.csaf_tree import Path, fail
from kit.findings.cvss import base_score
from kit.findings.errors import FindingsFormatError
from kit.findings.vex_foreign import ForeignProduct, ForeignStatement, ForeignVex
from kit.timeutil import TimeFormatError, format_time, parse_time

STATES = {"resolved": "fixed", "resolved_with_pedigree": "fixed", "exploitable": "affected",
          "in_triage": "under_investigation", "false_positive": "not_affected", "not_affected": "not_affected"}
JUSTIFICATIONS = {
    "code_not_present": "vulnerable_code_not_present",
    "code_not_reachable": "vulnerable_code_not_in_execute_path",
    "requires_configuration": "vulnerable_code_cannot_be_controlled_by_adversary",
    "requires_dependency": "component_not_present",
    "requires_environment": "vulnerable_code_cannot_be_controlled_by_adversary",
    "protected_by_compiler": "inline_mitigations_already_exist",
    "protected_at_runtime": "inline_mitigations_already_exist",
    "protected_at_perimeter": "inline_mitigations_already_exist",
    "protected_by_mitigating_control": "inline_mitigations_already_exist",
}
VERSION_STATUS = {"affected": "affected", "unaffected": "not_affected", "unknown": "under_investigation"}
_CVSS_PREFIX = {"CVSSv2": "", "CVSSv3": "CVSS:3.0/", "CVSSv31": "CVSS:3.1/", "CVSSv4": "CVSS:4.0/"}
_BASE_METRICS = {"CVSSv2": {"AV", "AC", "Au", "C", "I", "A"},
                 "CVSSv3": {"CVSS", "AV", "AC", "PR", "UI", "S", "C", "I", "A"},
                 "CVSSv31": {"CVSS", "AV", "AC", "PR", "UI", "S", "C", "I", "A"},
                 "CVSSv4": {"CVSS", "AV", "AC", "AT", "PR", "UI", "VC", "VI", "VA", "SC", "SI", "SA"}}


def _base_only(method: str, vector: str) -> bool:
    """True when the vector sets no temporal/threat/environmental metric: its score is the base score."""
    parts = [p.partition(":") for p in vector.strip("()").split("/")]
    return all(name in _BASE_METRICS[method] or value == "X" for name, _, value in parts)


def looks_like_cyclonedx(doc: Any) -> bool:
    return isinstance(doc, dict) and doc.get("bomFormat") == "CycloneDX"


def _components(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    stack = [(doc.get("metadata") or {}).get("component"), *(doc.get("components") or [])]
    while stack:
        comp = stack.pop()
        if isinstance(comp, dict):
            yield comp
            stack.extend(comp.get("components") or [])


def _refs(doc: dict[str, Any]) -> dict[str, ForeignProduct]:
    out: dict[str, ForeignProduct] = {}
    for comp in _components(doc):
        ref, purl, cpe = comp.get("bom-ref"), comp.get("purl"), comp.get("cpe")
        if not isinstance(ref, str) or not ref:
            continue
        purl = purl if isinstance(purl, str) and purl.startswith("pkg:") else ""
        cpe = cpe if isinstance(cpe, str) and cpe.startswith("cpe:") else ""
        out[ref] = ForeignProduct(purl or cpe or f"urn:cdx-ref:{quote(ref, safe='')}", purl, cpe)
    return out


def _product(ref: Any, refs: dict[str, ForeignProduct], path: Path) -> ForeignProduct:
    if isinstance(ref, str) and ref in refs:
        return refs[ref]
    if isinstance(ref, str) and ref.startswith("pkg:"):
        return ForeignProduct(ref, ref)
    if isinstance(ref, str) and ref.startswith("urn:cdx:") and "#" in ref:
        fragment = ref.split("#", 1)[1]
        return ForeignProduct(ref, fragment if fragment.startswith("pkg:") else "")
    raise fail(path, f"ref {ref!r} names no component (bom-ref) of this BOM, and is neither a purl "
                     "nor a BOM-Link")


def _time(values: list[tuple[Any, Path]]) -> str:
    """The first time given among *values*, RFC 3339; refused when none is."""
    for value, path in values:
        if value:
            try:
                return format_time(parse_time(value))
            except TimeFormatError as exc:
                raise fail(path, str(exc)) from None
    raise fail(values[-1][1], "no timestamp (metadata.timestamp, analysis.lastUpdated); "
                              "give one with 'timestamp:'")


def _ratings(vuln: dict[str, Any], path: Path) -> None:
    for j, rating in enumerate(vuln.get("ratings") or []):
        method, vector, score = rating.get("method"), rating.get("vector"), rating.get("score")
        if not isinstance(method, str) or method not in _CVSS_PREFIX or not isinstance(vector, str) or score is None \
                or not _base_only(method, vector):
            continue   # a score with environmental metrics is not the base score the vector gives
        full = vector if vector.startswith("CVSS:") else _CVSS_PREFIX[method] + vector
        try:
            computed = base_score(full)
        except FindingsFormatError as exc:
            raise fail((*path, "ratings", j, "vector"), exc.message) from None
        if not isinstance(score, (int, float)) or abs(float(score) - float(computed)) > 0.05:
            raise fail((*path, "ratings", j, "score"), f"score {score!r} disagrees with its vector {full} "
                                                      f"(which gives {computed})")


def _versioned(product: ForeignProduct, version: str) -> ForeignProduct:
    """The product at one version: ``purl@version`` when its purl names no version (a versioned
    purl as it is); a product without a purl as ``ID@VERSION`` (it never matches a package, but
    two versions' statements stay apart)."""
    try:
        purl = PackageURL.from_string(product.purl) if product.purl else None
    except ValueError:
        purl = None
    if purl is None:
        return ForeignProduct(f"{product.id}@{quote(version, safe='')}")
    if purl.version:
        return product
    text = PackageURL(purl.type, purl.namespace, purl.name, version, purl.qualifiers, purl.subpath).to_string()
    return ForeignProduct(text, text, product.cpe)


def _targets(vuln: dict[str, Any], path: Path, refs: dict[str, ForeignProduct], status: str
             ) -> dict[str, set[ForeignProduct]]:
    """OpenVEX status -> products. An ``affects`` entry without ``versions`` takes the analysis's
    status; with them, each exact version its own (affected, unaffected -> not_affected, unknown ->
    under_investigation); a version range, which no OpenVEX product can express, counts for the
    whole product only when affected or unknown (never to suppress)."""
    out: dict[str, set[ForeignProduct]] = defaultdict(set)
    for k, entry in enumerate(vuln.get("affects") or []):
        product = _product(entry.get("ref") if isinstance(entry, dict) else None, refs, (*path, "affects", k, "ref"))
        versions = entry.get("versions") if isinstance(entry, dict) else None
        if not versions:
            out[status].add(product)
            continue
        for j, item in enumerate(versions if isinstance(versions, list) else [versions]):
            given = item.get("status", "affected") if isinstance(item, dict) else None
            if not isinstance(given, str) or given not in VERSION_STATUS:
                raise fail((*path, "affects", k, "versions", j), f"status {given!r} is not affected, unaffected "
                                                                 "or unknown")
            if isinstance(item.get("version"), str) and item["version"]:
                out[VERSION_STATUS[given]].add(_versioned(product, item["version"]))
            elif given != "unaffected":
                out[VERSION_STATUS[given]].add(product)
    return out


def _statements_of(vuln: dict[str, Any], path: Path, refs: dict[str, ForeignProduct], stamp: str
                   ) -> list[ForeignStatement]:
    """The statements of one analysed vulnerability: one per status its products end up with."""
    analysis = vuln["analysis"]
    state = analysis.get("state")
    if state not in STATES:
        raise fail((*path, "analysis", "state"), f"state {state!r} is not one of {', '.join(STATES)}")
    name = vuln.get("id")
    if not isinstance(name, str) or not name:
        raise fail((*path, "id"), "a vulnerability needs an id")
    if not vuln.get("affects"):
        raise fail((*path, "affects"), "the analysis names no product (affects is empty)")
    status, detail = STATES[state], str(analysis.get("detail") or "").strip()
    targets = _targets(vuln, path, refs, status)
    raw = analysis.get("justification")
    if raw is not None and raw not in JUSTIFICATIONS:
        raise fail((*path, "analysis", "justification"), f"justification {raw!r} is not a CycloneDX justification")
    justification = JUSTIFICATIONS.get(raw or "", "") if status == "not_affected" else ""
    if state == "false_positive":
        justification, detail = "vulnerable_code_not_present", f"false positive: {detail}".strip(": ")
    responses = ", ".join(str(r) for r in analysis.get("response") or [])
    action = "; ".join(t for t in (f"response: {responses}" if responses else "", detail) if t)
    aliases = tuple(sorted({str(r["id"]) for r in vuln.get("references") or [] if isinstance(r, dict)
                            and r.get("id")} - {name}))
    stamp = _time([(analysis.get("lastUpdated"), (*path, "analysis", "lastUpdated")),
                   (analysis.get("firstIssued"), (*path, "analysis", "firstIssued")),
                   (vuln.get("updated"), (*path, "updated")), (stamp, ("metadata", "timestamp"))])
    return [ForeignStatement(
        name, aliases, tuple(sorted(products)), got, stamp, justification=justification if got == status else "",
        impact_statement=(detail or "unaffected per affects[].versions") if got == "not_affected" else "",
        action_statement=(action or "No response is given in the CycloneDX analysis") if got == "affected" else "",
        status_notes=action if got in ("fixed", "under_investigation") else "")
        for got, products in sorted(targets.items()) if products]


def _issuer(doc: dict[str, Any], fallback: str) -> str:
    meta = doc.get("metadata") or {}
    component = meta.get("component") or {}
    candidates = [meta.get("supplier"), meta.get("manufacturer"), meta.get("manufacture"),
                  *(meta.get("authors") or []), component.get("supplier")]
    for item in candidates:
        if isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"].strip():
            return str(item["name"]).strip()
    if fallback:
        return fallback
    raise fail(("metadata",), "names no issuer (supplier, manufacturer or authors); give one with 'issuer:'")


def _shape(doc: dict[str, Any]) -> None:
    """The containers this module walks have the JSON types CycloneDX gives them."""
    checks: list[tuple[Any, type[Any], Path]] = [(doc.get("metadata", {}), dict, ("metadata",)),
                                                 (doc.get("components", []), list, ("components",)),
                                                 (doc.get("vulnerabilities", []), list, ("vulnerabilities",))]
    vulns: list[Any] = doc["vulnerabilities"] if isinstance(doc.get("vulnerabilities"), list) else []
    for i, vuln in enumerate(vulns):
        checks.append((vuln, dict, ("vulnerabilities", i)))
        if isinstance(vuln, dict):
            kinds: tuple[tuple[str, type[Any]], ...] = (("ratings", list), ("affects", list), ("references", list),
                                                        ("analysis", dict))
            for key, kind in kinds:
                checks.append((vuln.get(key, kind()), kind, ("vulnerabilities", i, key)))
            ratings: list[Any] = vuln["ratings"] if isinstance(vuln.get("ratings"), list) else []
            checks += [(r, dict, ("vulnerabilities", i, "ratings", j)) for j, r in enumerate(ratings)]
            analysis = vuln.get("analysis")
            if isinstance(analysis, dict):
                checks.append((analysis.get("response", []), list, ("vulnerabilities", i, "analysis", "response")))
    for value, kind, path in checks:
        if not isinstance(value, kind):
            raise fail(path, f"must be {'an object' if kind is dict else 'a list'}")


def cyclonedx_vex_statements(doc: Any, issuer: str = "", fallback_id: str = "", timestamp: str = "") -> ForeignVex:
    """The VEX statements of a CycloneDX BOM.

    Args:
        issuer: used when the BOM's metadata names no supplier, manufacturer or author.
        timestamp: used when neither the BOM nor an analysis gives a time.
        fallback_id: the document's name when it has no ``serialNumber``.

    Raises:
        FindingsFormatError: the message starts with the JSON path of the problem.
    """
    if not looks_like_cyclonedx(doc):
        raise fail((), "not a CycloneDX document (bomFormat is not CycloneDX)")
    _shape(doc)
    try:
        return _statements(doc, issuer, fallback_id, timestamp)
    except (TypeError, AttributeError, ValueError) as exc:   # a value of a type CycloneDX does not allow
        raise fail((), f"malformed CycloneDX document ({exc})") from None


def _statements(doc: dict[str, Any], issuer: str, fallback_id: str, timestamp: str) -> ForeignVex:
    refs, stamp = _refs(doc), (doc.get("metadata") or {}).get("timestamp") or timestamp
    statements = []
    for i, vuln in enumerate(doc.get("vulnerabilities") or []):
        if isinstance(vuln, dict):
            _ratings(vuln, ("vulnerabilities", i))
            if isinstance(vuln.get("analysis"), dict) and "state" in vuln["analysis"]:
                statements += _statements_of(vuln, ("vulnerabilities", i), refs, stamp)
    if not statements:
        raise fail(("vulnerabilities",), "no vulnerability has an analysis.state naming a product OpenVEX can "
                                         "express: not a CycloneDX VEX document")
    serial = str(doc.get("serialNumber") or "")
    given = doc.get("version")
    version = given if isinstance(given, int) and not isinstance(given, bool) and given >= 1 else 1
    ident = f"urn:cdx:{serial.removeprefix('urn:uuid:')}/{version}" if serial else \
        f"urn:cdx-file:{quote(fallback_id or 'vex', safe='/')}"
    first = min(s.timestamp for s in statements)
    return ForeignVex(ident, _issuer(doc, issuer), _time([(stamp, ("metadata", "timestamp"))]) if stamp else first,
                      version, f"CycloneDX {doc.get('specVersion', '')}".strip(), tuple(statements))
