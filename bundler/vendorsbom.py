"""Vendor SBOMs a release brings for its images (kit.yaml: a component's ``sbom:``).

A vendor's SBOM is carried into the kit as is, next to ours, and both feed the findings
(docs/sbom.md, "Vendor SBOMs"). Before that it is checked, each failure a one-line
``bad-spec`` error naming kit.yaml, the release, the service and the file:

- size (stat before reading, ``MAX_BYTES``) and JSON;
- format from the content: CycloneDX 1.4-1.7 (``bomFormat``, ``specVersion``) or
  SPDX 2.2/2.3 JSON (``spdxVersion``);
- its schema: CycloneDX's JSON schema of that version (cyclonedx-python-lib, offline),
  SPDX through spdx-tools' parser and full validator;
- that it describes the image: the image's digest (the index or manifest the release
  names, what the registry served, or any platform manifest) must appear in it, as
  ``sha256:HEX`` or URL-encoded in a purl. Otherwise it is refused, unless the component
  says ``allowUnbound: true`` with a ``reason``, which the provenance records.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bundler.errors import SpecError
from kit.findings.errors import FindingsFormatError
from kit.findings.sbom import check_components
from kit.inputfile import read_file

MAX_BYTES = 128 << 20
CYCLONEDX_VERSIONS = ("1.4", "1.5", "1.6", "1.7")
SPDX_VERSIONS = ("SPDX-2.2", "SPDX-2.3")
SUFFIX = {"cyclonedx": "cdx", "spdx": "spdx"}


@dataclass(frozen=True)
class VendorSBOMSpec:
    """A component's vendor SBOM as kit.yaml names it."""

    service: str
    path: Path
    allow_unbound: bool = False
    reason: str = ""


@dataclass(frozen=True)
class VendorSBOM:
    """A checked vendor SBOM: its bytes as read, and what it is."""

    spec: VendorSBOMSpec
    format: str            # "cyclonedx" | "spdx"
    version: str           # "1.6", "SPDX-2.3", ...
    data: bytes


def parse_component(service: str, value: Any, base: Path, at: str) -> tuple[str, VendorSBOMSpec | None]:
    """A component's value: an image reference, or ``{image, sbom, allowUnbound, reason}``.

    Raises:
        SpecError: unknown keys, no image, allowUnbound without a reason, a missing file.
    """
    if isinstance(value, str):
        return value, None
    if not isinstance(value, dict):
        raise SpecError(f"{at}: component {service} must be an image reference or a mapping with image and sbom")
    extra = sorted(set(value) - {"image", "sbom", "allowUnbound", "reason"})
    if extra:
        raise SpecError(f"{at}: component {service}: unknown key {extra[0]!r} "
                        "(allowed: allowUnbound, image, reason, sbom)")
    image, sbom = value.get("image"), value.get("sbom")
    if not isinstance(image, str) or not image.strip():
        raise SpecError(f"{at}: component {service} needs an image reference")
    if sbom is None:
        return image, None
    allow, reason = value.get("allowUnbound", False), value.get("reason", "")
    if not isinstance(sbom, str) or not sbom:
        raise SpecError(f"{at}: component {service}: sbom must be a file path")
    if not isinstance(allow, bool) or not isinstance(reason, str):
        raise SpecError(f"{at}: component {service}: allowUnbound must be true or false, reason a string")
    if allow and not reason.strip():
        raise SpecError(f"{at}: component {service}: allowUnbound needs a reason (it goes into the provenance)")
    path = base / sbom
    if not path.is_file():
        raise SpecError(f"{at}: component {service}: vendor SBOM {sbom} is not a file")
    return image, VendorSBOMSpec(service, path, allow, reason.strip())


def load(spec: VendorSBOMSpec, at: str) -> VendorSBOM:
    """Read, detect and validate one vendor SBOM.

    Raises:
        SpecError: too big, unreadable, not JSON, not a supported format or version, or
            invalid against its schema.
    """
    where = f"{at}: component {spec.service}: vendor SBOM {spec.path}"
    try:
        size = spec.path.stat().st_size
        if size > MAX_BYTES:
            raise SpecError(f"{where}: {size} bytes, limit {MAX_BYTES}")
    except OSError as exc:
        raise SpecError(f"{where}: cannot read: {exc.strerror or exc}") from None
    data = read_file(spec.path, "SBOM", MAX_BYTES)
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise SpecError(f"{where}: not JSON ({exc})") from None
    if isinstance(doc, dict) and doc.get("bomFormat") == "CycloneDX":
        version = str(doc.get("specVersion"))
        if version not in CYCLONEDX_VERSIONS:
            raise SpecError(f"{where}: CycloneDX {version} (supported: {', '.join(CYCLONEDX_VERSIONS)})")
        _check_cyclonedx(data, version, where)
        try:                 # "bomFormat: CycloneDX" with no usable components list is not "0 components"
            check_components(doc, where)
        except FindingsFormatError as exc:
            raise SpecError(exc.message) from None
        return VendorSBOM(spec, "cyclonedx", version, data)
    if isinstance(doc, dict) and "spdxVersion" in doc:
        version = str(doc.get("spdxVersion"))
        if version not in SPDX_VERSIONS:
            raise SpecError(f"{where}: {version} (supported: {', '.join(SPDX_VERSIONS)} JSON)")
        _check_spdx(doc, version, where)
        return VendorSBOM(spec, "spdx", version, data)
    raise SpecError(f"{where}: neither CycloneDX JSON (bomFormat) nor SPDX JSON (spdxVersion)")


def _check_cyclonedx(data: bytes, version: str, where: str) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator
    schema = SchemaVersion.from_version(version)
    error = JsonStrictValidator(schema).validate_str(data.decode("utf-8", errors="replace"))
    if error is not None:
        raise SpecError(f"{where}: not valid CycloneDX {version}: {_first_line(str(error))}")


def _check_spdx(doc: dict[str, Any], version: str, where: str) -> None:
    from spdx_tools.spdx.parser.error import SPDXParsingError
    from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document
    try:
        parsed = JsonLikeDictParser().parse(doc)  # type: ignore[no-untyped-call]  # spdx-tools is untyped
    except SPDXParsingError as exc:
        messages: list[str] = exc.get_messages()  # type: ignore[no-untyped-call]  # spdx-tools is untyped
        raise SpecError(f"{where}: not valid {version}: {_first_line('; '.join(messages))}") from None
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise SpecError(f"{where}: not valid {version}: {_first_line(str(exc))}") from None
    problems = validate_full_spdx_document(parsed, version)
    if problems:
        raise SpecError(f"{where}: not valid {version}: {_first_line(problems[0].validation_message)}")


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "invalid"
    return line[:300]


def binds(sbom: VendorSBOM, digests: Iterable[str]) -> bool:
    """True when one of *digests* (``sha256:HEX``) appears in the document."""
    text = sbom.data.decode("utf-8", errors="replace").lower()
    return any(d.split(":", 1)[-1].lower() in text for d in digests)


@dataclass(frozen=True)
class Carried:
    """A checked vendor SBOM placed in the kit for one release component."""

    sbom: VendorSBOM
    path: str              # kit path
    bound: bool            # the image's digest appears in it

    def to_doc(self) -> dict[str, Any]:
        """The component's ``vendorSbom`` in the release document."""
        return {"path": self.path, "format": self.sbom.format, "specVersion": self.sbom.version,
                "bound": self.bound}


def carry(sbom: VendorSBOM, release: str, version: str, digests: Iterable[str], at: str) -> Carried:
    """Where *sbom* goes in the kit, after checking it describes the image (*digests*).

    Raises:
        SpecError: the image's digest does not appear in it and the component does not
            allow that (``allowUnbound: true`` with a reason).
    """
    bound = binds(sbom, digests)
    if not bound and not sbom.spec.allow_unbound:
        raise SpecError(f"{at}: component {sbom.spec.service}: vendor SBOM {sbom.spec.path} does not name "
                        f"the image's digest ({', '.join(sorted(set(digests)))}); it may describe another "
                        "image (allowUnbound: true with a reason to carry it anyway)")
    path = f"sboms/vendor/{release}/{version}/{sbom.spec.service}.{SUFFIX[sbom.format]}.json"
    return Carried(sbom, path, bound)
