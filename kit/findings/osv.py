"""OSV JSON → normalized advisory records.

``parse_osv`` turns one OSV document into an ``Advisory`` or raises
``FindingsFormatError`` naming the record. Unknown fields and ``database_specific`` /
``ecosystem_specific`` blocks are ignored (only a plain ``severity`` word is read from
them, as the source's label), so new or odd source extensions never break a load.
Affected entries of ecosystems with no version rules here are kept out of the index and
counted; ``GIT`` ranges are kept in the record but never match a package version (the
explicit ``versions`` list stands for them, as OSV intends).
"""

from __future__ import annotations

from typing import Any

from kit.findings.advisory import EVENT_KINDS, RANGE_TYPES, Advisory, Affected, Event, Range, Severity
from kit.findings.cvss import base_score
from kit.findings.errors import FindingsFormatError
from kit.findings.names import normalize
from kit.findings.versions import split_osv_ecosystem, version_too_large

_LABELS = ("critical", "high", "moderate", "medium", "low", "none", "negligible", "unimportant")


def _fail(record: str, message: str) -> FindingsFormatError:
    return FindingsFormatError(message, entry=record)


def _text(doc: dict[str, Any], key: str, record: str, required: bool = False) -> str:
    value = doc.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise _fail(record, f"field {key!r} must be a non-empty string")
    return value


def _strings(value: Any, what: str, record: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(record, f"{what} must be a list of strings")
    return tuple(value)


def _event(item: Any, record: str) -> Event:
    if not isinstance(item, dict) or len(item) != 1:
        raise _fail(record, f"range event {item!r} must hold exactly one of {EVENT_KINDS}")
    kind, version = next(iter(item.items()))
    if kind not in EVENT_KINDS or not isinstance(version, str) or not version:
        raise _fail(record, f"range event {item!r} is not one of {EVENT_KINDS}")
    why = version_too_large(version)
    if why:
        raise _fail(record, f"range event {kind!r}: the version is {why}")
    return Event(kind, version)


def _range(item: Any, record: str) -> Range:
    if not isinstance(item, dict) or item.get("type") not in RANGE_TYPES:
        raise _fail(record, f"range type must be one of {RANGE_TYPES}")
    events = item.get("events")
    if not isinstance(events, list) or not events:
        raise _fail(record, "a range needs a non-empty list of events")
    repo = item.get("repo", "")
    return Range(item["type"], tuple(_event(e, record) for e in events),
                 repo if isinstance(repo, str) else "")


def _affected(item: Any, record: str) -> Affected | None:
    if not isinstance(item, dict) or not isinstance(item.get("package"), dict):
        raise _fail(record, "each affected entry needs a package object")
    package = item["package"]
    ecosystem = _text(package, "ecosystem", record, required=True)
    name = _text(package, "name", record, required=True)
    purl_type, _ = split_osv_ecosystem(ecosystem)
    ranges = item.get("ranges", [])
    if not isinstance(ranges, list):
        raise _fail(record, "ranges must be a list")
    parsed = tuple(_range(r, record) for r in ranges)
    versions = _strings(item.get("versions"), "versions", record)
    for n, version in enumerate(versions):
        why = version_too_large(version)
        if why:
            raise _fail(record, f"versions[{n}] is {why}")
    if purl_type is None:
        return None  # an ecosystem without version rules here: counted, not indexed
    return Affected(ecosystem, purl_type, name, normalize(purl_type, name),
                    _text(package, "purl", record), parsed, versions)


def _severity(doc: dict[str, Any], record: str) -> tuple[Severity, ...]:
    items = doc.get("severity") or []
    if not isinstance(items, list):
        raise _fail(record, "severity must be a list")
    out = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("score"), str):
            raise _fail(record, "each severity needs a type and a score string")
        kind, vector = str(item.get("type", "")), item["score"]
        try:
            score = base_score(vector) if kind.startswith("CVSS") else ""
        except FindingsFormatError as exc:
            raise _fail(record, exc.message) from None
        out.append(Severity(kind, vector, score))
    return tuple(sorted(out, key=lambda s: (s.type, s.vector)))


def _label(doc: dict[str, Any]) -> str:
    """The source's own severity word, if it states one in a plain form."""
    specific = doc.get("database_specific")
    value = specific.get("severity") if isinstance(specific, dict) else None
    if isinstance(value, str) and value.strip().lower() in _LABELS:
        word = value.strip().lower()
        return "medium" if word == "moderate" else word
    return ""


def parse_osv(doc: Any, source: str) -> Advisory:
    """One OSV document as a normalized ``Advisory``.

    Raises:
        FindingsFormatError: the document breaks the OSV schema in a way that matters
            for matching; ``entry`` names the record id (or ``?`` when it has none).
    """
    if not isinstance(doc, dict):
        raise _fail("?", "an OSV record must be a JSON object")
    given = doc.get("id")
    record = given if isinstance(given, str) and given else "?"
    ident = _text(doc, "id", record, required=True)
    affected_items = doc.get("affected", [])
    if not isinstance(affected_items, list):
        raise _fail(record, "affected must be a list")
    affected = tuple(a for a in (_affected(i, record) for i in affected_items) if a)
    return Advisory(
        id=ident, modified=_text(doc, "modified", record, required=True), source=source,
        aliases=tuple(sorted(set(_strings(doc.get("aliases"), "aliases", record)) - {ident})),
        published=_text(doc, "published", record), withdrawn=_text(doc, "withdrawn", record),
        summary=_text(doc, "summary", record), severity=_severity(doc, record),
        label=_label(doc), affected=affected)
