"""Advisory sources → ``advisories/records.ndjson`` and ``advisories/sources.json``.

Each kit.yaml ``advisories:`` item is one *source*: an OSV JSON file, a folder, an
osv.dev ``all.zip`` export or an NDJSON file, read with ``kit.findings.loader``. Records
are normalized into ``kit.findings`` ``Advisory`` values, merged by id across sources
(``advisory_merge``), sorted by id and written one canonical JSON object per line.
``sources.json`` says where every record came from. Rules: docs/advisories.md.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bundler.errors import SpecError
from bundler.sources.advisory_merge import Candidate, MergeDecision, merge
from bundler.sources.advisory_spec import SOURCE_NAME, AdvisoryInput, parse_advisory_inputs
from bundler.sources.documents import documents
from kit import canonical
from kit.errors import KitFormatError
from kit.findings.advisory import Advisory
from kit.findings.csaf import looks_like_csaf, parse_csaf
from kit.findings.csaf_advisory import csaf_advisories
from kit.findings.errors import FindingsIOError, Problem
from kit.findings.loader import iter_documents
from kit.findings.osv import parse_osv
from kit.findings.versions import version_too_large
from kit.format import EntrySource
from kit.inputfile import read_file
from kit.schema import validate
from kit.timeutil import TimeFormatError, format_time, parse_time

ADVISORY_RECORDS_PATH = "advisories/records.ndjson"
ADVISORY_SOURCES_PATH = "advisories/sources.json"
ADVISORY_RECORDS_TYPE = "application/vnd.stella.advisories+ndjson"
ADVISORY_SOURCES_TYPE = "application/vnd.stella.advisory-sources+json"
SOURCES_SCHEMA = "advisory-sources"
SOURCES_FORMAT = "stella.advisory-sources/v1"
_READ_SUFFIXES = (".json", ".ndjson", ".jsonl", ".zip")  # what kit.findings.loader reads
# Id prefixes whose source has a better-known name than the prefix itself.
_PREFIX_NAMES = {"pysec": "pypa", "go": "go", "rustsec": "rustsec", "dla": "debian", "dsa": "debian",
                 "dtsa": "debian"}

__all__ = ["ADVISORY_RECORDS_PATH", "ADVISORY_RECORDS_TYPE", "ADVISORY_SOURCES_PATH", "ADVISORY_SOURCES_TYPE",
           "AdvisoryInput", "AdvisoryReport", "SourceReport", "advisory_entries", "parse_advisory_inputs"]


@dataclass(frozen=True)
class InputFile:
    path: str      # relative to kit.yaml, as written plus the path inside a folder
    sha256: str
    size: int


@dataclass(frozen=True)
class SourceReport:
    """What one source contributed, for ``sources.json`` and the build summary."""

    name: str
    snapshot: str            # RFC 3339
    snapshot_from: str       # "kit.yaml" or "records" (newest modified)
    priority: int
    path: str                # as written in kit.yaml
    files: tuple[InputFile, ...]
    records: int             # valid records read
    skipped: tuple[Problem, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "snapshot": self.snapshot, "snapshot_from": self.snapshot_from,
                "priority": self.priority, "path": self.path, "records": self.records,
                "files": [dataclasses.asdict(f) for f in self.files],
                "skipped": [{"file": p.file, "record": p.record, "reason": p.message} for p in self.skipped]}


@dataclass(frozen=True)
class AdvisoryReport:
    """Every source and merge decision of one build; ``to_dict`` is ``sources.json``."""

    sources: tuple[SourceReport, ...]
    merges: tuple[MergeDecision, ...]
    records: int             # records in records.ndjson

    @property
    def skipped(self) -> tuple[Problem, ...]:
        return tuple(p for s in self.sources for p in s.skipped)

    def summary(self) -> str:
        """One line for the build log."""
        return (f"advisories: {self.records} records from {len(self.sources)} source(s), "
                f"{len(self.skipped)} skipped, {len(self.merges)} merged")

    def to_dict(self) -> dict[str, Any]:
        return {"format": SOURCES_FORMAT, "records": self.records,
                "sources": [s.to_dict() for s in self.sources],
                "merges": [m.to_dict() for m in self.merges]}


@dataclass(frozen=True)
class _Read:
    """One source after reading: its records (with file names) and problems."""

    input: AdvisoryInput
    records: tuple[tuple[Advisory, str, dt.datetime], ...]   # (advisory, file, parsed modified)
    problems: tuple[Problem, ...]
    files: tuple[InputFile, ...]


def _relative(item: AdvisoryInput, name: str) -> str:
    """A loader display name (absolute) as the kit.yaml-relative path, so reports are portable."""
    root = str(item.path)
    return item.written + name[len(root):] if name.startswith(root) else name


def _files(item: AdvisoryInput) -> tuple[InputFile, ...]:
    """sha256 and size of every file the loader reads for *item*, sorted."""
    if item.path.is_dir():
        paths = sorted(p for p in item.path.rglob("*") if p.is_file() and p.suffix.lower() in _READ_SUFFIXES)
    else:
        paths = [item.path]
    out = []
    for path in paths:
        data = read_file(path, "advisory file")
        out.append(InputFile(_relative(item, str(path)), hashlib.sha256(data).hexdigest(), len(data)))
    return tuple(out)


def _items(name: str, data: bytes) -> list[tuple[str, Any]]:
    """(record label, parsed JSON or the parse error) of one document, as kit.findings.loader reads it.

    NDJSON: one record per non-empty line; JSON: an object, or a list of objects.
    """
    if name.lower().endswith((".ndjson", ".jsonl")):
        return [(f"line {n}", _parse(line)) for n, line in enumerate(data.splitlines(), start=1)
                if line.strip()]
    value = _parse(data)
    if isinstance(value, list):
        return [(f"item {n}", v) for n, v in enumerate(value, start=1)]
    return [("", value)]


def _parse(data: bytes) -> Any:
    try:
        return canonical.loads(data, allow_floats=True)  # database_specific blocks may hold floats
    except canonical.CanonicalJSONError as exc:
        return exc


def _record(value: Any, label: str, source: str, file: str) -> tuple[Advisory, dt.datetime] | Problem:
    """One raw record as an ``Advisory`` (with its parsed ``modified``), or why it is skipped."""
    if isinstance(value, canonical.CanonicalJSONError):
        return Problem(file, label, str(value))
    if looks_like_csaf(value):
        return Problem(file, label, "a CSAF document, not OSV: give this source 'format: csaf'")
    ident = value.get("id") if isinstance(value, dict) and isinstance(value.get("id"), str) else ""
    try:
        advisory = parse_osv(value, source)
    except KitFormatError as exc:
        return Problem(file, ident or exc.entry or label, exc.message)
    try:
        return advisory, parse_time(advisory.modified)
    except TimeFormatError:
        return Problem(file, advisory.id, f"modified {advisory.modified!r} is not an RFC 3339 time")


def _oversized_version(advisory: Advisory) -> str | None:
    """Why one of *advisory*'s versions is over the bounds every ecosystem has, or None (OSV
    records are checked by ``parse_osv``; CSAF records are built here, so checked here)."""
    for affected in advisory.affected:
        for event in (e for r in affected.ranges for e in r.events):
            why = version_too_large(event.version)
            if why:
                return f"{affected.name}: range event {event.kind!r}: the version is {why}"
        for n, version in enumerate(affected.versions):
            why = version_too_large(version)
            if why:
                return f"{affected.name}: versions[{n}] is {why}"
    return None


def _read_csaf(item: AdvisoryInput) -> _Read:
    """A CSAF source: every document checked whole; any problem fails the build (docs/advisories.md)."""
    records: list[tuple[Advisory, str, dt.datetime]] = []
    files = []
    for doc in documents(item.path, item.written, "advisories"):
        try:
            parsed = parse_csaf(doc.doc)
        except KitFormatError as exc:
            raise SpecError(f"advisories: {doc.name}: {exc.message}", entry=doc.name) from None
        found = csaf_advisories(parsed, "")
        for advisory in found:
            why = _oversized_version(advisory)
            if why:
                raise SpecError(f"advisories: {doc.name}: {advisory.id}: {why}", entry=doc.name)
        records += [(a, doc.name, parse_time(a.modified)) for a in found]
        files.append(InputFile(doc.name, doc.sha256, len(doc.data)))
    return _Read(item, tuple(records), (), tuple(files))


def _read(item: AdvisoryInput) -> _Read:
    """Load one source; bad records become problems, an unreadable path a ``SpecError``."""
    if item.format == "csaf":
        return _read_csaf(item)
    records: list[tuple[Advisory, str, dt.datetime]] = []
    problems: list[Problem] = []
    try:
        for name, data in iter_documents(item.path):
            file = _relative(item, name)
            for label, value in _items(name, data):
                got = _record(value, label, "", file)
                if isinstance(got, Problem):
                    problems.append(got)
                else:
                    records.append((got[0], file, got[1]))
    except FindingsIOError as exc:
        raise SpecError(f"advisories: {item.written}: {_relative(item, exc.message)}",
                        entry=item.written) from None
    return _Read(item, tuple(records), tuple(sorted(problems)), _files(item))


def _derived_name(item: AdvisoryInput, records: Sequence[Advisory]) -> str:
    """The source name when kit.yaml gives none: see docs/advisories.md ("Source names")."""
    prefixes = {a.id.split("-", 1)[0].lower() for a in records if "-" in a.id}
    if len(prefixes) == 1 and all("-" in a.id for a in records):
        prefix = prefixes.pop()
        name = _PREFIX_NAMES.get(prefix, prefix)
    else:
        stem = item.path.name.lower()
        for suffix in _READ_SUFFIXES:
            stem = stem.removesuffix(suffix)
        name = re.sub(r"[^a-z0-9._-]+", "-", stem).strip("-._")
    if not SOURCE_NAME.match(name):
        raise SpecError(f"advisories: {item.written}: cannot derive a source name; give one with 'source:'",
                        entry=item.written)
    return name


def _named(read: _Read) -> tuple[str, _Read]:
    """*read* with its records carrying the source name (explicit or derived)."""
    item = read.input
    if not read.records:
        first = f"; first: {read.problems[0].one_line()}" if read.problems else ""
        raise SpecError(f"advisories: {item.written}: no valid advisory records "
                        f"({len(read.problems)} skipped){first}", entry=item.written)
    name = item.source or _derived_name(item, [r[0] for r in read.records])
    records = tuple((dataclasses.replace(a, source=name), f, m) for a, f, m in read.records)
    return name, dataclasses.replace(read, records=records)


def _report(name: str, read: _Read) -> SourceReport:
    item = read.input
    if item.snapshot is not None:
        snapshot, origin = item.snapshot, "kit.yaml"
    else:
        snapshot, origin = max(m for _a, _f, m in read.records), "records"
    return SourceReport(name=name, snapshot=format_time(snapshot), snapshot_from=origin,
                        priority=item.priority, path=item.written, files=read.files,
                        records=len(read.records), skipped=read.problems)


def _unique(names: list[tuple[str, AdvisoryInput]]) -> None:
    seen: dict[str, AdvisoryInput] = {}
    for name, item in names:
        if name in seen:
            raise SpecError(f"advisories: {seen[name].written} and {item.written} are both source {name!r}; "
                            "give one a different 'source:' name", entry=item.written)
        seen[name] = item


def _merge_all(named: list[tuple[str, _Read]]) -> tuple[list[Advisory], list[MergeDecision]]:
    by_id: dict[str, list[Candidate]] = defaultdict(list)
    for name, read in named:
        for advisory, file, modified in read.records:
            by_id[advisory.id].append(Candidate(advisory, name, read.input.priority, file, modified))
    records, decisions = [], []
    for ident in sorted(by_id):
        merged, decision = merge(by_id[ident])
        records.append(merged)
        if decision is not None:
            decisions.append(decision)
    return records, decisions


def ndjson(records: Sequence[Advisory]) -> bytes:
    """One canonical JSON record per line, each line ending in a newline."""
    return b"".join(canonical.dumps(r.to_dict()) + b"\n" for r in records)


def advisory_entries(inputs: Sequence[AdvisoryInput]) -> tuple[list[EntrySource], AdvisoryReport]:
    """Read, normalize and merge every advisory source into the two kit entries.

    Returns:
        ``[records.ndjson, sources.json]`` entries (empty when *inputs* is empty) and the
        report that ``sources.json`` serializes.

    Raises:
        SpecError: a path cannot be read, a source has no valid record, two sources
            end up with the same name, or sources.json fails its own schema (a bug).
    """
    if not inputs:
        return [], AdvisoryReport((), (), 0)
    named = [_named(_read(item)) for item in inputs]
    _unique([(name, read.input) for name, read in named])
    records, decisions = _merge_all(named)
    report = AdvisoryReport(tuple(sorted((_report(n, r) for n, r in named), key=lambda s: s.name)),
                            tuple(decisions), len(records))
    document = report.to_dict()
    validate(SOURCES_SCHEMA, document, ADVISORY_SOURCES_PATH)  # our own output: a failure is a bug
    return [EntrySource(ADVISORY_RECORDS_PATH, ADVISORY_RECORDS_TYPE, data=ndjson(records)),
            EntrySource(ADVISORY_SOURCES_PATH, ADVISORY_SOURCES_TYPE, data=canonical.dumps(document))], report
