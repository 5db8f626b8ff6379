"""VEX documents → ``vex/…`` entries, checked before the air gap.

OpenVEX documents are carried byte-exact. CSAF 2.0 and CycloneDX VEX documents
(``format: csaf`` / ``cyclonedx`` in kit.yaml) are mapped to an OpenVEX document
(``vex_convert``) carried as ``vex/…NAME.openvex.json``, with the original beside it under
``vex-sources/``; the generated document then passes the same two checks.

Every document must pass two checks: the JSON Schema docs/schemas/openvex-0.2.0.schema.json
(shape, enums, "not_affected needs a justification or an impact statement", "affected
needs an action statement") and ``kit.findings.vex_load.parse_openvex``, the very parser
the appliance uses, so a document the appliance would skip a statement of never leaves
the connected side. The original bytes are carried unchanged: an author's signature or
digest over the document stays valid. See docs/vex.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bundler.errors import SpecError
from bundler.sources.documents import documents
from bundler.sources.vex_convert import SOURCE_TYPES, convert, wrong_format_hint
from bundler.sources.vex_spec import VexInput
from kit import canonical
from kit.errors import KitFormatError
from kit.findings.vex_load import parse_openvex
from kit.format import EntrySource
from kit.inputfile import read_file
from kit.schema import validate

OPENVEX_TYPE = "application/vnd.openvex+json"
OPENVEX_SCHEMA = "openvex-0.2.0"


def _files(path: Path) -> list[tuple[Path, str]]:
    """(file, kit path) of every document under *path*: a file, or a folder's *.json sorted."""
    if path.is_file():
        return [(path, f"vex/{path.name}")]
    if not path.is_dir():
        raise SpecError(f"vex: {path} does not exist", entry=str(path))
    found = sorted((p for p in path.rglob("*.json") if p.is_file()
                    and not any(part.startswith(".") for part in p.relative_to(path).parts)),
                   key=lambda p: p.relative_to(path).as_posix().encode("utf-8"))
    if not found:
        raise SpecError(f"vex: {path} holds no .json document", entry=str(path))
    return [(p, f"vex/{path.name}/{p.relative_to(path).as_posix()}") for p in found]


def _check_document(data: bytes, file: Path | str) -> None:
    """Schema, then the appliance's own parser; any finding is a ``SpecError`` naming the statement."""
    try:
        doc: Any = canonical.loads(data, allow_floats=True)
    except canonical.CanonicalJSONError as exc:
        raise SpecError(f"vex: {file}: {exc}", entry=str(file)) from None
    hint = wrong_format_hint(doc)
    if hint:
        raise SpecError(f"vex: {file}: not an OpenVEX document{hint}", entry=str(file))
    _status_rules(doc, file)
    try:
        validate(OPENVEX_SCHEMA, doc, f"vex: {file}")
    except KitFormatError as exc:
        raise SpecError(_statement_message(exc.message, file), entry=str(file)) from None
    try:
        parsed = parse_openvex(doc, str(file))
    except KitFormatError as exc:
        raise SpecError(f"vex: {file}: {exc.message}", entry=str(file)) from None
    if parsed.problems:
        problem = parsed.problems[0]
        raise SpecError(f"vex: {file}: statement {problem.record}: {problem.message}", entry=str(file))


def _status_rules(doc: Any, file: Path | str) -> None:
    """The spec's two status rules, checked first: the schema's own message for them is unreadable."""
    items = doc.get("statements") if isinstance(doc, dict) else None
    for index, item in enumerate(items if isinstance(items, list) else []):
        if not isinstance(item, dict):
            continue
        if item.get("status") == "not_affected" and not item.get("justification") \
                and not item.get("impact_statement"):
            raise SpecError(f"vex: {file}: statement {index}: not_affected needs a justification "
                            "or an impact_statement", entry=str(file))
        if item.get("status") == "affected" and not item.get("action_statement"):
            raise SpecError(f"vex: {file}: statement {index}: affected needs an action_statement",
                            entry=str(file))


def _statement_message(message: str, file: Path | str) -> str:
    """Schema messages say ``at statements/3/status``; say ``statement 3`` so people find it."""
    return message.replace(" at statements/", " at statement ", 1)


def _foreign_entries(item: VexInput) -> list[EntrySource]:
    """The OpenVEX form and the original of every CSAF / CycloneDX document of *item*."""
    out = []
    for doc in documents(item.path, item.written, "vex"):
        openvex = convert(item, doc)
        _check_document(openvex, doc.name)      # our own output: the appliance's checks, once more
        stem = doc.relative[:-len(".json")] if doc.relative.lower().endswith(".json") else doc.relative
        out.append(EntrySource(f"vex/{stem}.openvex.json", OPENVEX_TYPE, data=openvex))
        out.append(EntrySource(f"vex-sources/{doc.relative}", SOURCE_TYPES[item.format], data=doc.data,
                               file=doc.file))
    return out


def _openvex_entries(path: Path) -> list[EntrySource]:
    out = []
    for file, kit_path in _files(path):
        data = read_file(file, "VEX document")
        _check_document(data, file)
        # carry the bytes we checked; the file is named for provenance and change detection
        out.append(EntrySource(kit_path, OPENVEX_TYPE, data=data, file=file))
    return out


def vex_entries(inputs: Sequence[Path | VexInput]) -> list[EntrySource]:
    """The entries of every VEX input, in order (a plain path is OpenVEX).

    OpenVEX: a file is carried as ``vex/FILENAME``; a folder's ``*.json`` files
    (recursively, hidden ones skipped, sorted) as ``vex/FOLDER/RELATIVE/PATH``.
    CSAF / CycloneDX: ``vex/…/NAME.openvex.json`` (generated) and ``vex-sources/…/NAME.json``.

    Raises:
        SpecError: a path is missing or unreadable, a document is not JSON, breaks its
            schema, has a statement the parser refuses or (CSAF, CycloneDX) a reference or
            score that does not hold — the message names the file and the statement or
            JSON path — or two documents share a kit path.
    """
    out: list[EntrySource] = []
    seen: dict[str, str] = {}
    for item in inputs:
        if isinstance(item, Path):
            item = VexInput(item, str(item))
        got = _openvex_entries(item.path) if item.format == "openvex" else _foreign_entries(item)
        for entry in got:
            if entry.path in seen:
                raise SpecError(f"vex: {seen[entry.path]} and {item.written} would both be carried as "
                                f"{entry.path}; rename one", entry=entry.path)
            seen[entry.path] = item.written
        out += got
    return out
