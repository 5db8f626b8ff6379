"""Reading advisory files: single OSV JSON files, folders, .zip exports and NDJSON.

The bad-record rule: a record that cannot be read (invalid JSON, duplicate keys, an OSV
schema error that matters for matching) is skipped and reported as a ``Problem`` naming
the file and the record id; every other record still loads. A path that does not exist
or cannot be read at all raises ``FindingsIOError``. Files are visited in sorted order,
so the result is the same on every machine.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from kit.canonical import CanonicalJSONError, loads
from kit.errors import InputTooLarge
from kit.findings.advisory import Advisory
from kit.findings.csaf import looks_like_csaf, parse_csaf
from kit.findings.csaf_advisory import csaf_advisories
from kit.findings.errors import FindingsError, FindingsFormatError, FindingsIOError, Problem
from kit.findings.osv import parse_osv
from kit.inputfile import LIMIT_VARIABLE, limit_for, read_file

T = TypeVar("T")
_JSON = (".json",)
_NDJSON = (".ndjson", ".jsonl")


@dataclass(frozen=True)
class Loaded:
    """Records read from some paths, plus what was skipped and why."""

    records: tuple[Any, ...]
    problems: tuple[Problem, ...]


def iter_documents(path: Path, kind: str = "advisory file") -> Iterator[tuple[str, bytes]]:
    """(display name, bytes) of every JSON/NDJSON document under *path*, sorted.

    Each file (and each member of a .zip) is read through ``kit.inputfile`` with the limit
    of *kind* (a key of ``kit.inputfile.LIMITS``): a FIFO or device named directly is
    refused by name, one inside a folder is not a document and is passed over.

    Raises:
        FindingsIOError: *path* does not exist or a file/zip cannot be read.
        InputTooLarge: a file or zip member is over the limit (exit 3).
        SpecialFile: *path* names a FIFO, device or socket (exit 3).
    """
    try:
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                if child.suffix.lower() in _JSON + _NDJSON + (".zip",):
                    yield from iter_documents(child, kind)
        elif not path.exists():
            raise FindingsIOError(f"{path}: no such file or folder", entry=str(path))
        elif path.suffix.lower() == ".zip" and path.is_file():
            yield from _zip_documents(path, kind)
        else:
            yield str(path), read_file(path, kind)
    except (OSError, zipfile.BadZipFile) as exc:
        raise FindingsIOError(f"{path}: cannot read: {exc}", entry=str(path)) from None


def _zip_documents(path: Path, kind: str) -> Iterator[tuple[str, bytes]]:
    """Members of a .zip export, each refused over the limit by its declared size and by what it inflates to."""
    limit = limit_for(kind)
    with zipfile.ZipFile(path) as archive:
        for info in sorted(archive.infolist(), key=lambda i: i.filename):
            if not info.filename.lower().endswith(_JSON + _NDJSON):
                continue
            where = f"{path}!{info.filename}"
            if info.file_size > limit:
                raise InputTooLarge(f"{kind} {where}: {info.file_size} bytes is over the limit of {limit} bytes "
                                    f"(not read; {LIMIT_VARIABLE} sets another)", entry=where)
            with archive.open(info) as member:
                data = member.read(limit + 1)
            if len(data) > limit:
                raise InputTooLarge(f"{kind} {where}: inflates past the limit of {limit} bytes "
                                    f"({LIMIT_VARIABLE} sets another)", entry=where)
            yield where, data


def _json_items(name: str, data: bytes) -> Iterator[tuple[int, Any | CanonicalJSONError]]:
    """(line or 0, parsed value or the parse error) of one document."""
    if name.lower().endswith(_NDJSON):
        for number, line in enumerate(data.splitlines(), start=1):
            if line.strip():
                yield number, _parse(line)
        return
    value = _parse(data)
    if isinstance(value, list):
        yield from ((i + 1, item) for i, item in enumerate(value))
    else:
        yield 0, value


def _parse(data: bytes) -> Any:
    try:
        return loads(data, allow_floats=True)  # database_specific may hold floats
    except CanonicalJSONError as exc:
        return exc


def _record_name(value: Any, line: int) -> str:
    ident = value.get("id") if isinstance(value, dict) else None
    if isinstance(ident, str):
        return ident
    return f"line {line}" if line else "?"


def load_records(paths: Iterable[Path], convert: Callable[[Any, str], T]) -> Loaded:
    """Convert every JSON record under *paths*; failures become ``Problem`` values.

    *convert* gets the record and its source name (the name of the path given, e.g. the
    folder or zip), and raises ``FindingsError`` for a bad record.
    """
    records: list[T] = []
    problems: list[Problem] = []
    for path in paths:
        for name, data in iter_documents(path):
            for line, value in _json_items(name, data):
                if isinstance(value, CanonicalJSONError):
                    problems.append(Problem(name, f"line {line}" if line else "", str(value)))
                    continue
                try:
                    got = convert(value, path.name)
                    records.extend(got if isinstance(got, list) else [got])
                except FindingsError as exc:
                    problems.append(Problem(name, exc.entry or _record_name(value, line),
                                            exc.message))
    return Loaded(tuple(records), tuple(sorted(problems)))


def _csaf_or_osv(value: Any, source: str) -> Advisory | list[Advisory]:
    """A CSAF 2.0 document gives one record per vulnerability (docs/advisories.md); else OSV."""
    if looks_like_csaf(value):
        try:
            return csaf_advisories(parse_csaf(value), source)
        except FindingsError as exc:
            raise FindingsFormatError(exc.message, entry=exc.entry or "?") from None
    return parse_osv(value, source)


def load_advisories(paths: Iterable[Path]) -> Loaded:
    """Every OSV advisory (or CSAF 2.0 document) under *paths* (records are ``Advisory``), sorted by id."""
    loaded = load_records(paths, _csaf_or_osv)
    advisories: list[Advisory] = sorted(loaded.records, key=lambda a: (a.id, a.source, a.modified))
    return Loaded(tuple(advisories), loaded.problems)
