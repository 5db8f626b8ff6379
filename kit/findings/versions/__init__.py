"""Version rules per ecosystem, chosen by purl type.

``scheme_for(purl_type)`` gives a ``Scheme`` whose ``parse`` turns a version string into
a value ordered by that ecosystem's rules (parses are cached: the matcher sees the same
strings again and again). ``purl_type_for_osv(ecosystem)`` maps OSV ecosystem names
(``PyPI``, ``Debian:12``, ``Alpine:v3.19``, ``Red Hat``…) to the purl type that selects
the rules and the index key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from kit.findings.errors import UnsupportedEcosystem
from kit.findings.versions import alpine, debian, gem, golang, maven, pep440, rpm, semver

_PARSERS: dict[str, Callable[[str], Any]] = {
    "pypi": pep440.parse,
    "npm": semver.parse,
    "cargo": semver.parse,
    "deb": debian.parse,
    "apk": alpine.parse,
    "rpm": rpm.parse,
    "maven": maven.parse,
    "golang": golang.parse,
    "gem": gem.parse,
}

# OSV ecosystem (the part before ":") -> purl type. Distribution ecosystems carry a
# release after the colon ("Debian:12"), which the matcher compares separately.
_OSV_TO_PURL = {
    "pypi": "pypi", "npm": "npm", "crates.io": "cargo", "go": "golang", "maven": "maven",
    "rubygems": "gem", "debian": "deb", "ubuntu": "deb", "alpine": "apk",
    "red hat": "rpm", "rocky linux": "rpm", "almalinux": "rpm", "opensuse": "rpm",
    "suse": "rpm", "mageia": "rpm", "openeuler": "rpm",
}


@dataclass(frozen=True)
class Scheme:
    """The version rules of one ecosystem."""

    name: str
    parse: Callable[[str], Any]


@cache
def scheme_for(purl_type: str) -> Scheme:
    """The rules for *purl_type*.

    Raises:
        UnsupportedEcosystem: no rules are known for that type (the caller reports the
            component as skipped rather than guessing an order).
    """
    parser = _PARSERS.get(purl_type)
    if parser is None:
        raise UnsupportedEcosystem(f"no version rules for package type {purl_type!r}")
    return Scheme(purl_type, lru_cache(maxsize=1 << 16)(parser))



def split_osv_ecosystem(ecosystem: str) -> tuple[str | None, str]:
    """(purl type or None, release suffix) for an OSV ecosystem string."""
    base, _, release = ecosystem.partition(":")
    return _OSV_TO_PURL.get(base.strip().lower()), release.strip()
