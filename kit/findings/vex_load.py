"""Reading OpenVEX documents (files, folders, .zip) and trust-tier configuration.

The bad-record rule for VEX: a document that is not OpenVEX (no statements list, no
author, bad timestamp) is skipped whole and reported with its file and @id; a statement
that is malformed (unknown status, no vulnerability, no product) is skipped and reported
as ``@id#index``; the document's other statements still apply. A ``not_affected``
statement without a justification is *not* skipped here: it is loaded and then refused
by the consensus, where ``stella vex explain`` shows it and why.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kit.canonical import CanonicalJSONError, loads
from kit.findings.csaf import csaf_vex_statements, looks_like_csaf, parse_csaf
from kit.findings.cyclonedx_vex import cyclonedx_vex_statements, looks_like_cyclonedx
from kit.findings.errors import FindingsFormatError, Problem
from kit.findings.loader import iter_documents
from kit.findings.vex_model import STATUSES, Product, Statement, Tier, TrustTiers
from kit.inputfile import read_file


@dataclass(frozen=True)
class VexDocument:
    statements: tuple[Statement, ...]
    problems: tuple[Problem, ...]


def parse_time(value: Any, where: str) -> datetime:
    if not isinstance(value, str) or not value:
        raise FindingsFormatError("timestamp must be an ISO 8601 string", entry=where)
    try:
        found = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise FindingsFormatError(f"bad timestamp {value!r}", entry=where) from None
    return found if found.tzinfo else found.replace(tzinfo=UTC)


def _vulnerability(item: Any, where: str) -> tuple[str, tuple[str, ...]]:
    if isinstance(item, str) and item:
        return item, ()
    if isinstance(item, dict):
        name = item.get("name") or item.get("@id")
        aliases = item.get("aliases") or []
        if isinstance(name, str) and name and isinstance(aliases, list):
            return name, tuple(sorted(str(a) for a in aliases))
    raise FindingsFormatError("statement names no vulnerability", entry=where)


def _product(item: Any, where: str) -> Product:
    if isinstance(item, str) and item:
        return Product(item)
    if isinstance(item, dict):
        identifiers = item.get("identifiers")
        ident = item.get("@id") or (identifiers.get("purl") if isinstance(identifiers, dict) else None)
        subs = item.get("subcomponents") or []
        if isinstance(ident, str) and ident and isinstance(subs, list):
            return Product(ident, tuple(sorted(_product(s, where).id for s in subs)))
    raise FindingsFormatError("product needs an @id or identifiers.purl", entry=where)


def _statement(item: Any, index: int, doc: dict[str, Any], file: str) -> Statement:
    where = f"{doc['@id']}#{index}"
    if not isinstance(item, dict):
        raise FindingsFormatError("statement must be an object", entry=where)
    status = item.get("status")
    if status not in STATUSES:
        raise FindingsFormatError(f"status {status!r} is not one of {STATUSES}", entry=where)
    products = item.get("products")
    if not isinstance(products, list) or not products:
        raise FindingsFormatError("statement lists no products", entry=where)
    name, aliases = _vulnerability(item.get("vulnerability"), where)
    supplier = item.get("supplier")
    return Statement(
        file=file, document=doc["@id"], index=index,
        issuer=supplier if isinstance(supplier, str) and supplier else doc["author"],
        timestamp=parse_time(item.get("timestamp") or doc["timestamp"], where),
        vulnerability=name, vuln_aliases=aliases,
        products=tuple(sorted({_product(p, where) for p in products}, key=lambda p: p.id)),
        status=status, justification=str(item.get("justification") or ""),
        impact_statement=str(item.get("impact_statement") or ""),
        action_statement=str(item.get("action_statement") or ""))


def parse_openvex(doc: Any, file: str) -> VexDocument:
    """Statements of one OpenVEX document; bad statements become problems.

    Raises:
        FindingsFormatError: the document as a whole is not usable OpenVEX.
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("@id"), str) or not doc["@id"]:
        raise FindingsFormatError("not an OpenVEX document (no @id)", entry="?")
    if not str(doc.get("@context", "")).startswith("https://openvex.dev/ns"):
        raise FindingsFormatError("not an OpenVEX document (@context)", entry=doc["@id"])
    if not isinstance(doc.get("author"), str) or not doc["author"]:
        raise FindingsFormatError("document has no author", entry=doc["@id"])
    parse_time(doc.get("timestamp"), doc["@id"])
    items = doc.get("statements")
    if not isinstance(items, list):
        raise FindingsFormatError("document has no statements list", entry=doc["@id"])
    statements, problems = [], []
    for index, item in enumerate(items):
        try:
            statements.append(_statement(item, index, doc, file))
        except FindingsFormatError as exc:
            problems.append(Problem(file, exc.entry or "?", exc.message))
    return VexDocument(tuple(statements), tuple(problems))


def parse_any_vex(doc: Any, file: str) -> VexDocument:
    """OpenVEX as it is; a CSAF 2.0 or CycloneDX VEX document through its OpenVEX form
    (docs/vex.md: the mapping the bundler carries), for the ad-hoc commands.

    Raises:
        FindingsFormatError: the document cannot be used (for CSAF/CycloneDX: the JSON path).
    """
    if looks_like_csaf(doc):
        doc = csaf_vex_statements(parse_csaf(doc)).to_openvex()
    elif looks_like_cyclonedx(doc):
        doc = cyclonedx_vex_statements(doc, fallback_id=file).to_openvex()
    return parse_openvex(doc, file)


def load_vex(paths: Iterable[Path]) -> tuple[tuple[Statement, ...], tuple[Problem, ...]]:
    """Every statement under *paths* (OpenVEX, CSAF or CycloneDX VEX), sorted by ref, and every problem met.

    Raises:
        FindingsIOError: a path cannot be read.
    """
    statements: list[Statement] = []
    problems: list[Problem] = []
    for path in paths:
        for name, data in iter_documents(path, "VEX document"):
            try:
                parsed = parse_any_vex(loads(data, allow_floats=True), name)
            except CanonicalJSONError as exc:
                problems.append(Problem(name, "", str(exc)))
                continue
            except FindingsFormatError as exc:
                problems.append(Problem(name, exc.entry or "?", exc.message))
                continue
            statements.extend(parsed.statements)
            problems.extend(parsed.problems)
    return (tuple(sorted(statements, key=lambda s: (s.document, s.index, s.file))),
            tuple(sorted(set(problems))))


def load_tiers(path: Path) -> TrustTiers:
    """Trust tiers from ``{"tiers": [{"name": …, "issuers": [...]}, …]}``, highest first.

    Raises:
        KitIOError, SpecialFile, InputTooLarge: the file cannot be read, is not a regular file or is too large.
        FindingsFormatError: the file is not a valid tiers document.
    """
    try:
        doc = loads(read_file(path, "trust tiers"))
    except CanonicalJSONError as exc:
        raise FindingsFormatError(f"{path}: {exc}", entry=str(path)) from None
    tiers = doc.get("tiers") if isinstance(doc, dict) else None
    if not isinstance(tiers, list) or not tiers:
        raise FindingsFormatError(f"{path}: expected a non-empty 'tiers' list", entry=str(path))
    out = []
    for tier in tiers:
        if not isinstance(tier, dict) or not isinstance(tier.get("name"), str) or \
                not isinstance(tier.get("issuers"), list):
            raise FindingsFormatError(f"{path}: each tier needs a name and an issuers list",
                                      entry=str(path))
        out.append(Tier(tier["name"], tuple(str(i) for i in tier["issuers"])))
    return TrustTiers(tuple(out))
