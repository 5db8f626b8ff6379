"""PyPI versions: PEP 440, through ``packaging`` (the reference implementation pip uses)."""

from __future__ import annotations

from packaging.version import InvalidVersion as _PackagingInvalid, Version

from kit.findings.errors import InvalidVersion


def parse(text: str) -> Version:
    try:
        return Version(text)
    except _PackagingInvalid:
        raise InvalidVersion(f"{text!r} is not a valid PEP 440 version") from None
