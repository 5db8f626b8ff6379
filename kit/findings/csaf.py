"""CSAF 2.0 documents (``csaf_security_advisory``, ``csaf_vex`` and the other profiles):
checked, then read as VEX statements (``csaf_vex_statements``; advisory records are
``kit.findings.csaf_advisory``).

``parse_csaf`` refuses a document — one ``FindingsFormatError`` whose message starts
with the JSON path — when it is not CSAF 2.0, breaks the official JSON schema, refers
to a product or group the product tree never defines, defines one twice, nests groups,
has relationships in a circle (``kit.findings.csaf_tree``), or states a CVSS base score
its own vector disagrees with. The mapping is documented in docs/vex.md and
docs/advisories.md.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from packageurl import PackageURL

from kit.findings.csaf_schema import validate_csaf
from kit.findings.csaf_tree import CsafProduct, Path, ProductTree, fail
from kit.findings.cvss import base_score
from kit.findings.errors import FindingsFormatError
from kit.findings.vex_foreign import ForeignProduct, ForeignStatement, ForeignVex
from kit.findings.vex_model import SUPPRESSING
from kit.timeutil import TimeFormatError, format_time, parse_time

# product_status key -> OpenVEX status; "recommended" is advice, not a status, and is not mapped
STATUS_MAP = {"first_affected": "affected", "known_affected": "affected", "last_affected": "affected",
              "first_fixed": "fixed", "fixed": "fixed", "known_not_affected": "not_affected",
              "under_investigation": "under_investigation"}
STATUS_KEYS = frozenset((*STATUS_MAP, "recommended"))
_SCORES = {"cvss_v2": "CVSS_V2", "cvss_v3": "CVSS_V3", "cvss_v4": "CVSS_V4"}


@dataclass(frozen=True)
class CsafDocument:
    """A checked CSAF document with its resolved product tree."""

    doc: dict[str, Any]
    tree: ProductTree
    tracking_id: str
    publisher: str
    namespace: str
    modified: str             # tracking.current_release_date, RFC 3339 (whole seconds, UTC)
    published: str            # tracking.initial_release_date
    revisions: int

    @property
    def vulnerabilities(self) -> list[dict[str, Any]]:
        items = self.doc.get("vulnerabilities")
        return items if isinstance(items, list) else []


def looks_like_csaf(doc: Any) -> bool:
    document = doc.get("document") if isinstance(doc, dict) else None
    return isinstance(document, dict) and "csaf_version" in document


def _time(value: Any, path: Path) -> str:
    try:
        return format_time(parse_time(value))
    except TimeFormatError as exc:
        raise fail(path, str(exc)) from None


def _references(csaf: CsafDocument) -> None:
    """Every product id and group id a vulnerability names must be defined."""
    for i, vuln in enumerate(csaf.vulnerabilities):
        base: Path = ("vulnerabilities", i)
        status = vuln.get("product_status") or {}
        for key in sorted(set(status) & STATUS_KEYS):        # other keys: not CSAF 2.0, not read
            for j, ident in enumerate(status[key]):
                csaf.tree.product((*base, "product_status", key, j), ident)
        for key in ("scores", "remediations", "threats", "flags"):
            for j, item in enumerate(vuln.get(key) or []):
                csaf.tree.expand(item, (*base, key, j))


def _named(csaf: CsafDocument, index: int, key: str, keep: Any = None) -> set[str] | None:
    """Product ids the vulnerability's *key* items name (groups expanded); None: an item names none (all)."""
    out: set[str] = set()
    for j, item in enumerate(csaf.vulnerabilities[index].get(key) or []):
        if keep is not None and not keep(item):
            continue
        products = csaf.tree.expand(item, ("vulnerabilities", index, key, j))
        if not products:
            return None
        out |= {p.id for p in products}
    return out


def _vex_profile(csaf: CsafDocument) -> None:
    """The csaf_vex profile's statement rules (CSAF 2.0 mandatory tests 6.1.27.9 and 6.1.27.10)."""
    for i, vuln in enumerate(csaf.vulnerabilities):
        status = vuln.get("product_status") or {}
        rules = (("known_not_affected", "an impact statement (a flag or an impact threat naming it)", "6.1.27.9",
                  [_named(csaf, i, "flags"), _named(csaf, i, "threats", lambda t: t.get("category") == "impact")]),
                 ("known_affected", "an action statement (a remediation naming it)", "6.1.27.10",
                  [_named(csaf, i, "remediations")]))
        for key, need, test, covered in rules:
            sets = [c for c in covered if c is not None]
            if len(sets) < len(covered):
                continue          # an item naming no product speaks for every product
            said = set().union(*sets)
            for j, pid in enumerate(status.get(key) or []):
                if pid not in said:
                    raise fail(("vulnerabilities", i, "product_status", key, j),
                               f"csaf_vex: {key} product {pid!r} needs {need} (CSAF 2.0 test {test})")


def _check_score(entry: dict[str, Any], path: Path) -> tuple[str, str]:
    """(vector, computed base score); the stated baseScore must agree with the computed one."""
    vector = entry.get("vectorString")
    if not isinstance(vector, str):
        raise fail((*path, "vectorString"), "a CVSS score needs a vectorString")
    try:
        computed = base_score(vector)
    except FindingsFormatError as exc:
        raise fail((*path, "vectorString"), exc.message) from None
    stated = entry.get("baseScore")
    if not isinstance(stated, (int, float)) or isinstance(stated, bool) or abs(float(stated) - float(computed)) > 0.05:
        raise fail((*path, "baseScore"), f"baseScore {stated!r} disagrees with its vector {vector} "
                                         f"(which gives {computed})")
    return vector, computed


def scores(csaf: CsafDocument, index: int) -> Iterator[tuple[str, str, str]]:
    """(type, vector, computed score) of every CVSS score of vulnerability *index*, checked."""
    for j, item in enumerate(csaf.vulnerabilities[index].get("scores") or []):
        for key, kind in _SCORES.items():
            if isinstance(item.get(key), dict):
                vector, score = _check_score(item[key], ("vulnerabilities", index, "scores", j, key))
                yield kind, vector, score


def parse_csaf(doc: Any) -> CsafDocument:
    """Check a CSAF 2.0 document and resolve its product tree.

    Raises:
        FindingsFormatError: the message and ``entry`` start with the JSON path of the problem.
    """
    if not looks_like_csaf(doc):
        raise fail((), "not a CSAF document (no document.csaf_version)")
    validate_csaf(doc)
    document, tracking = doc["document"], doc["document"]["tracking"]
    csaf = CsafDocument(
        doc=doc, tree=ProductTree(doc), tracking_id=tracking["id"], publisher=document["publisher"]["name"],
        namespace=document["publisher"]["namespace"],
        modified=_time(tracking["current_release_date"], ("document", "tracking", "current_release_date")),
        published=_time(tracking["initial_release_date"], ("document", "tracking", "initial_release_date")),
        revisions=len(tracking.get("revision_history") or []))
    _references(csaf)
    if document["category"] == "csaf_vex":
        _vex_profile(csaf)
    for i in range(len(csaf.vulnerabilities)):
        list(scores(csaf, i))
    return csaf


def vulnerability_names(csaf: CsafDocument, index: int) -> tuple[str, tuple[str, ...]]:
    """(name, aliases) of a vulnerability: its CVE, else its first id; other ids are aliases."""
    vuln = csaf.vulnerabilities[index]
    ids = [i["text"] for i in vuln.get("ids") or [] if " " not in i["text"] and "://" not in i["text"]]
    names = ([vuln["cve"]] if vuln.get("cve") else []) + ids
    if not names:
        return f"{csaf.tracking_id}#vulnerability-{index}", ()
    return names[0], tuple(sorted(set(names[1:]) - {names[0]}))


def product_label(product: CsafProduct) -> str:
    """How a product is named outside the document: its purl, else a CPE, else its name."""
    return product.purl or (product.cpes[0] if product.cpes else product.name or product.id)


def _foreign(csaf: CsafDocument, product: CsafProduct) -> ForeignProduct:
    cpe = product.cpes[0] if product.cpes else ""
    if product.purl:
        return ForeignProduct(product.purl, product.purl, cpe)
    if cpe:
        return ForeignProduct(cpe, "", cpe)
    return ForeignProduct(f"urn:csaf:{quote(csaf.tracking_id, safe='')}:{quote(product.id, safe='')}")


def _per_product(csaf: CsafDocument, index: int, key: str, value: Any) -> dict[str, list[str]]:
    """Product id -> texts from the vulnerability's *key* items (``""`` key: items naming no product)."""
    out: dict[str, list[str]] = defaultdict(list)
    for j, item in enumerate(csaf.vulnerabilities[index].get(key) or []):
        text = value(item)
        if not text:
            continue
        products = csaf.tree.expand(item, ("vulnerabilities", index, key, j))
        for pid in [p.id for p in products] or [""]:
            out[pid].append(text)
    return out


def _versioned(purl: str) -> bool:
    """True when *purl* names a version (so a statement about it covers that version only)."""
    try:
        return bool(purl) and bool(PackageURL.from_string(purl).version)
    except ValueError:
        return False


def _remedy(item: dict[str, Any]) -> str:
    url = f" ({item['url']})" if item.get("url") else ""
    return f"{item['category']}: {item['details'].strip()}{url}"


def _impact(item: dict[str, Any]) -> str:
    return str(item["details"]).strip() if item.get("category") == "impact" else ""


def _statements(csaf: CsafDocument, index: int) -> list[ForeignStatement]:
    name, aliases = vulnerability_names(csaf, index)
    flags = _per_product(csaf, index, "flags", lambda f: f["label"])
    impact = _per_product(csaf, index, "threats", _impact)
    remedies = _per_product(csaf, index, "remediations", _remedy)
    groups: dict[tuple[str, str, str, str], set[ForeignProduct]] = defaultdict(set)
    status_map = csaf.vulnerabilities[index].get("product_status") or {}
    for key in STATUS_MAP:
        for pid in status_map.get(key) or []:
            product, status = csaf.tree.products[pid], STATUS_MAP[key]
            if status in SUPPRESSING and product.version_range and product.purl and not _versioned(product.purl):
                continue        # a version range no OpenVEX product can express never suppresses (docs/vex.md)
            justification = (flags.get(pid) or flags.get("") or [""])[0] if status == "not_affected" else ""
            said = "\n".join(impact.get(pid) or impact.get("") or []) if status == "not_affected" else ""
            action = "; ".join(remedies.get(pid) or remedies.get("") or []) if status == "affected" else ""
            if status == "affected" and not action:
                action = f"No remediation is given in CSAF document {csaf.tracking_id}"
            groups[(status, justification, said, action)].add(_foreign(csaf, product))
    return [ForeignStatement(name, aliases, tuple(sorted(products)), status, csaf.modified,
                             justification=just, impact_statement=said, action_statement=action)
            for (status, just, said, action), products in sorted(groups.items())]


def csaf_vex_statements(csaf: CsafDocument) -> ForeignVex:
    """Every product status of every vulnerability as VEX statements (docs/vex.md)."""
    statements = [s for i in range(len(csaf.vulnerabilities)) for s in _statements(csaf, i)]
    ident = f"{csaf.namespace.rstrip('/')}/csaf/{quote(csaf.tracking_id, safe=':')}"
    version = csaf.doc["document"]["csaf_version"]
    return ForeignVex(ident, csaf.publisher, csaf.modified, max(csaf.revisions, 1),
                      f"CSAF {version} {csaf.doc['document']['category']} {csaf.tracking_id}", tuple(statements))
