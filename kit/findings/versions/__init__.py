"""Version rules per ecosystem, chosen by purl type.

``scheme_for(purl_type)`` gives a ``Scheme`` whose ``parse`` turns a version string into
a value ordered by that ecosystem's rules (parses are cached: the matcher sees the same
strings again and again). ``purl_type_for_osv(ecosystem)`` maps OSV ecosystem names
(``PyPI``, ``Debian:12``, ``Alpine:v3.19``, ``Red Hat``…) to the purl type that selects
the rules and the index key.

Every parse is bounded here, once for all ecosystems: a version longer than
``MAX_VERSION_LENGTH`` characters or of more than ``MAX_VERSION_PARTS`` parts is an
``InvalidVersion`` before any rule sees it, and no rule can fail with anything else (a
number past Python's digit limit, say), so the matcher skips and reports the one
component or advisory that carries it (docs/findings.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from kit.errors import cut
from kit.findings.errors import InvalidVersion, UnsupportedEcosystem
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


MAX_VERSION_LENGTH = 256      # characters (real versions are under 100)
MAX_VERSION_PARTS = 64        # parts between separators (. - + ~ : _)
_SEPARATOR = re.compile(r"[.\-+~:_]")


def version_too_large(text: str) -> str | None:
    """Why *text* is too long to be a version of any ecosystem, or None when it is not."""
    if len(text) < MAX_VERSION_PARTS:           # fewer characters than parts allowed: fine (the usual case)
        return None
    if len(text) > MAX_VERSION_LENGTH:
        return f"{len(text)} characters, over the {MAX_VERSION_LENGTH} a version may have"
    parts = len(_SEPARATOR.findall(text)) + 1
    if parts > MAX_VERSION_PARTS:
        return f"{parts} parts, over the {MAX_VERSION_PARTS} a version may have"
    return None


def _bounded(parse: Callable[[str], Any], ecosystem: str) -> Callable[[str], Any]:
    """*parse* behind the bounds: ``InvalidVersion`` is the only error it raises."""
    def run(text: str) -> Any:
        why = (None if len(text) < MAX_VERSION_PARTS else version_too_large(text)) if isinstance(text, str) \
            else "not a string"
        try:
            if why is None:
                return parse(text)
        except InvalidVersion:
            raise
        except (ValueError, TypeError, RecursionError, OverflowError) as exc:
            why = f"{type(exc).__name__}: {cut(str(exc), 80)}"
        raise InvalidVersion(f"{cut(repr(text), 80)} is not a valid {ecosystem} version: {why}")
    return run


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
    return Scheme(purl_type, lru_cache(maxsize=1 << 16)(_bounded(parser, purl_type)))



def split_osv_ecosystem(ecosystem: str) -> tuple[str | None, str]:
    """(purl type or None, release suffix) for an OSV ecosystem string."""
    base, _, release = ecosystem.partition(":")
    return _OSV_TO_PURL.get(base.strip().lower()), release.strip()
