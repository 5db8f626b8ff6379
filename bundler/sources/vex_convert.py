"""CSAF and CycloneDX VEX documents → the OpenVEX document the kit carries for each.

The statements are mapped by ``kit.findings.csaf`` / ``kit.findings.cyclonedx_vex``
(docs/vex.md has the tables) and written as canonical JSON, so the same input gives the
same bytes. The original document is carried beside it, byte-exact, under
``vex-sources/`` (``SOURCE_TYPES``): the appliance reads only the OpenVEX form.
"""

from __future__ import annotations

from bundler.errors import SpecError
from bundler.sources.documents import InputDocument
from bundler.sources.vex_spec import VexInput
from kit import canonical
from kit.errors import KitFormatError
from kit.findings.csaf import csaf_vex_statements, looks_like_csaf, parse_csaf
from kit.findings.cyclonedx_vex import cyclonedx_vex_statements, looks_like_cyclonedx
from kit.findings.vex_foreign import ForeignVex

SOURCE_TYPES = {"csaf": "application/json", "cyclonedx": "application/vnd.cyclonedx+json"}


def _statements(item: VexInput, doc: InputDocument) -> ForeignVex:
    if item.format == "csaf":
        return csaf_vex_statements(parse_csaf(doc.doc))
    return cyclonedx_vex_statements(doc.doc, item.issuer, doc.relative, item.timestamp)


def convert(item: VexInput, doc: InputDocument) -> bytes:
    """The OpenVEX form of one CSAF or CycloneDX document, canonical JSON.

    Raises:
        SpecError: ``vex: FILE: /JSON/PATH: why`` — the document is not of its format,
            breaks its schema, names an undefined product, or states a score its vector
            disagrees with.
    """
    try:
        return canonical.dumps(_statements(item, doc).to_openvex())
    except KitFormatError as exc:
        raise SpecError(f"vex: {doc.name}: {exc.message}", entry=doc.name) from None


def wrong_format_hint(doc: object) -> str:
    """For an OpenVEX input that is really CSAF or CycloneDX: what to write in kit.yaml."""
    if looks_like_csaf(doc):
        return "; this is a CSAF document: give this input 'format: csaf'"
    if looks_like_cyclonedx(doc):
        return "; this is a CycloneDX document: give this input 'format: cyclonedx'"
    return ""
