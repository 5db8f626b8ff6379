"""A checked CSAF document → normalized advisory records, one per vulnerability.

Record id ``TRACKING-ID/VULNERABILITY`` (``RHSA-2022:0011/CVE-2021-4155``): unique per
document, so two vendors' records about one CVE never merge into one; the CVE is an
alias, so findings are shown under it. Products with a purl become ``affected`` entries
grouped per package: ``known_affected`` versions are listed, ``first_affected`` is an
``introduced`` event, ``last_affected`` a ``last_affected`` event, ``fixed`` and
``first_fixed`` ``fixed`` events (each fixed version its own range from the first
affected version, or 0: cautious when a package has several fixed streams). Products
known only by CPE or name cannot match a package; their CPEs are kept in ``cpes``.
Remediations and threats are kept as written (``remediations``, ``threats``). See
docs/advisories.md.
"""

from __future__ import annotations

import functools
import re
from collections import defaultdict
from typing import Any

from packageurl import PackageURL

from kit.findings.advisory import Advisory, Affected, Event, Note, Range, Severity
from kit.findings.csaf import STATUS_KEYS, CsafDocument, product_label, scores, vulnerability_names
from kit.findings.csaf_tree import CsafProduct, fail
from kit.findings.finding import sort_versions
from kit.findings.names import normalize, purl_name
from kit.timeutil import TimeFormatError, format_time, parse_time

ECOSYSTEMS = {"pypi": "PyPI", "npm": "npm", "cargo": "crates.io", "golang": "Go", "maven": "Maven",
              "gem": "RubyGems", "deb": "Debian", "apk": "Alpine", "rpm": "Red Hat"}
_LABELS = {"critical": "critical", "important": "high", "high": "high", "moderate": "medium",
           "medium": "medium", "low": "low"}
# distribution purl namespaces -> OSV ecosystem names (the matcher compares the family with the
# component's namespace for deb and apk, and the release after ":" with its distro qualifier)
_DISTROS = {"debian": "Debian", "ubuntu": "Ubuntu", "alpine": "Alpine", "redhat": "Red Hat", "suse": "SUSE",
            "opensuse": "openSUSE", "rocky": "Rocky Linux", "almalinux": "AlmaLinux"}
_RELEASE = re.compile(r"(\d+(?:\.\d+)*)")
_EVENTS = {"first_affected": "introduced", "last_affected": "last_affected", "first_fixed": "fixed",
           "fixed": "fixed"}

Key = tuple[str, str, str, str]       # purl type, namespace, name, distribution release ("" for none)


@functools.lru_cache(maxsize=1 << 16)
def _parse(text: str) -> tuple[Key, str] | None:
    """(package key, version) of a purl of a known type, None for another type; ValueError if invalid."""
    purl = PackageURL.from_string(text)
    if purl.type not in ECOSYSTEMS:
        return None
    qualifiers = purl.qualifiers if isinstance(purl.qualifiers, dict) else {}
    found = _RELEASE.search(str(qualifiers.get("distro") or "")) if purl.type in ("deb", "apk", "rpm") else None
    return (purl.type, purl.namespace or "", purl.name, found.group(1) if found else ""), purl.version or ""


def _ecosystem(kind: str, namespace: str, release: str) -> str:
    """The OSV ecosystem name: per language, or the distribution (from the purl namespace) and release."""
    if kind not in ("deb", "apk", "rpm") or not namespace:
        return ECOSYSTEMS[kind]
    name = _DISTROS.get(namespace.lower(), namespace)
    return f"{name}:{release}" if release else name


def _package(product: CsafProduct) -> tuple[Key, str] | None:
    """(package key, version) of a product's purl; None when it has no purl of a known type."""
    if not product.purl:
        return None
    try:
        return _parse(product.purl)
    except ValueError:
        raise fail(tuple(product.where.strip("/").split("/")) + ("product_identification_helper", "purl"),
                   f"{product.purl!r} is not a valid purl") from None


def _ranges(purl_type: str, facts: dict[str, set[str]]) -> tuple[Range, ...]:
    intro = sort_versions(purl_type, facts["introduced"])[0] if facts["introduced"] else "0"
    ranges = [Range("ECOSYSTEM", (Event("introduced", intro), Event(kind, v)))
              for kind in ("fixed", "last_affected") for v in sort_versions(purl_type, facts[kind])]
    if not ranges and (facts["introduced"] or facts["all"]):
        ranges.append(Range("ECOSYSTEM", (Event("introduced", intro),)))
    return tuple(ranges)


def _affected(csaf: CsafDocument, status: dict[str, list[str]]) -> tuple[Affected, ...]:
    facts: dict[Key, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for key in ("first_affected", "known_affected", "last_affected", "first_fixed", "fixed"):
        for pid in status.get(key) or []:
            found = _package(csaf.tree.products[pid])
            if found is None:
                continue
            package, version = found
            if key == "known_affected":
                facts[package]["versions" if version else "all"].add(version)
            elif version:
                facts[package][_EVENTS[key]].add(version)
    out = []
    for (kind, namespace, name, release), got in sorted(facts.items()):
        native = purl_name(kind, namespace, name)
        out.append(Affected(_ecosystem(kind, namespace, release), kind, native, normalize(kind, native),
                            str(PackageURL(kind, namespace or None, name)), _ranges(kind, got),
                            sort_versions(kind, got["versions"])))
    return tuple(out)


def _notes(csaf: CsafDocument, index: int, key: str, kind: str) -> tuple[Note, ...]:
    out = []
    for j, item in enumerate(csaf.vulnerabilities[index].get(key) or []):
        products = csaf.tree.expand(item, ("vulnerabilities", index, key, j))
        out.append(Note(kind, item["category"], str(item.get("details", "")),
                        tuple(sorted({product_label(p) for p in products})), str(item.get("url", "")),
                        _date(item.get("date"))))
    return tuple(out)


def _date(value: Any) -> str:
    try:
        return format_time(parse_time(value)) if value else ""
    except TimeFormatError:
        return str(value)


def _summary(vuln: dict[str, Any], doc: dict[str, Any]) -> str:
    if vuln.get("title"):
        return str(vuln["title"])
    for note in vuln.get("notes") or []:
        if note.get("category") in ("summary", "description"):
            return str(note["text"]).strip()
    return str(doc["document"]["title"])


def _label(threats: tuple[Note, ...], doc: dict[str, Any]) -> str:
    words = [t.details for t in threats if t.category == "impact" and not t.products]
    aggregate = (doc["document"].get("aggregate_severity") or {}).get("text", "")
    for word in [*words, aggregate]:
        if word.strip().lower() in _LABELS:
            return _LABELS[word.strip().lower()]
    return ""


def csaf_advisories(csaf: CsafDocument, source: str) -> list[Advisory]:
    """One normalized record per vulnerability of a checked CSAF document."""
    out = []
    for index, vuln in enumerate(csaf.vulnerabilities):
        name, aliases = vulnerability_names(csaf, index)
        status = vuln.get("product_status") or {}
        products = {pid for key in STATUS_KEYS for pid in status.get(key) or []}
        threats = _notes(csaf, index, "threats", "threat")
        severity = {Severity(kind, vector, score) for kind, vector, score in scores(csaf, index)}
        ident = name if name.startswith(f"{csaf.tracking_id}#") else f"{csaf.tracking_id}/{name}"
        out.append(Advisory(
            id=ident, modified=csaf.modified, source=source, aliases=tuple(sorted({name, *aliases} - {ident})),
            published=_date(vuln.get("release_date")) or csaf.published, summary=_summary(vuln, csaf.doc),
            severity=tuple(sorted(severity, key=lambda s: (s.type, s.vector))), label=_label(threats, csaf.doc),
            affected=_affected(csaf, status), remediations=_notes(csaf, index, "remediations", "remediation"),
            threats=threats,
            cpes=tuple(sorted({c for pid in products for c in csaf.tree.products[pid].cpes}))))
    return out
