"""An SBOM component as the matcher sees it, built from its package URL.

Besides its own name a Debian or Alpine binary package may be looked up by its source
(Debian) or origin (Alpine) package name, since distribution advisories are filed under
those: taken from the purl qualifiers ``upstream`` (Syft's name, e.g. ``upstream=openssl``
or ``upstream=glibc@2.36-9``) or ``source``/``origin``. An RPM's ``epoch`` qualifier
becomes part of its version (``1:1.1.1k-7.el8``).
"""

from __future__ import annotations

from dataclasses import dataclass

from packageurl import PackageURL

from kit.findings.errors import FindingsFormatError
from kit.findings.names import normalize, purl_name

_SOURCE_QUALIFIERS = ("upstream", "source", "origin")


@dataclass(frozen=True, order=True)
class Location:
    """Where a component was found: image (``pkg:oci/…@sha256:…`` or digest) and layer."""

    image: str = ""
    layer: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"image": self.image, "layer": self.layer}


@dataclass(frozen=True)
class Component:
    purl: str
    purl_type: str
    namespace: str
    name: str  # ecosystem-native name, e.g. "org.apache:commons-text" or "@scope/pkg"
    version: str
    source_names: tuple[str, ...] = ()
    distro: str = ""
    locations: tuple[Location, ...] = ()
    source_version: str = ""  # the source package's version, when the purl states it

    def lookup_names(self) -> tuple[str, ...]:
        """Normalized names to look up: its own, then source/origin names."""
        own = normalize(self.purl_type, self.name)
        others = sorted({normalize(self.purl_type, n) for n in self.source_names} - {own})
        return (own, *others)

    def version_for(self, name: str) -> str:
        """The version to compare for a lookup *name*: a binary rebuild (``1.0-1+b1``)
        is matched by its source version (``upstream=pkg@1.0-1``) under the source name."""
        if name != self.lookup_names()[0] and self.source_version:
            return self.source_version
        return self.version

    @property
    def sort_key(self) -> tuple[str, str, tuple[Location, ...]]:
        return (self.purl, self.version, self.locations)


def _source_version(purl: PackageURL) -> str:
    qualifiers = purl.qualifiers if isinstance(purl.qualifiers, dict) else {}
    if purl.type not in ("deb", "apk"):
        return ""
    for q in _SOURCE_QUALIFIERS:
        name, at, version = str(qualifiers.get(q) or "").partition("@")
        if at and version.strip():
            return version.strip()
    return ""


def _source_names(purl: PackageURL) -> tuple[str, ...]:
    if purl.type not in ("deb", "apk"):
        return ()
    qualifiers = purl.qualifiers if isinstance(purl.qualifiers, dict) else {}
    names = {str(qualifiers[q]).split("@", 1)[0].strip()
             for q in _SOURCE_QUALIFIERS if qualifiers.get(q)}
    return tuple(sorted(n for n in names if n))


def _version(purl: PackageURL, fallback: str) -> str:
    version = purl.version or fallback
    qualifiers = purl.qualifiers if isinstance(purl.qualifiers, dict) else {}
    epoch = str(qualifiers.get("epoch", "") or "")
    if purl.type == "rpm" and epoch and ":" not in version:
        version = f"{epoch}:{version}"
    return version


def component_from_purl(text: str, version: str = "",
                        locations: tuple[Location, ...] = ()) -> Component:
    """A ``Component`` from a purl string (and the SBOM's version when the purl has none).

    Raises:
        FindingsFormatError: the purl cannot be parsed or names no version.
    """
    try:
        purl = PackageURL.from_string(text.strip())
    except ValueError as exc:
        raise FindingsFormatError(f"invalid purl {text!r}: {exc}", entry=text) from None
    found = _version(purl, version)
    if not found:
        raise FindingsFormatError(f"purl {text!r} has no version", entry=text)
    qualifiers = purl.qualifiers if isinstance(purl.qualifiers, dict) else {}
    return Component(
        purl=text.strip(), purl_type=purl.type, namespace=purl.namespace or "",
        name=purl_name(purl.type, purl.namespace, purl.name), version=found,
        source_names=_source_names(purl), distro=str(qualifiers.get("distro", "") or ""),
        locations=tuple(sorted(set(locations))), source_version=_source_version(purl))
