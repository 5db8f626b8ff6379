"""Maven versions, ordered as Maven's ``ComparableVersion``, through univers.

univers' ``MavenVersion`` is a port of ComparableVersion (qualifiers ``alpha < beta <
milestone < rc = cr < snapshot < "" = ga = final = release < sp``, trailing zeros and
separators normalised, so ``1.0 == 1.0.0`` and ``1.0-alpha1 < 1.0``).
"""

from __future__ import annotations

from typing import Any

from univers.versions import InvalidVersion as _UniversInvalid
from univers.versions import MavenVersion

from kit.findings.errors import InvalidVersion


def parse(text: str) -> Any:
    try:
        return MavenVersion(text.strip())
    except (_UniversInvalid, ValueError, TypeError):
        raise InvalidVersion(f"{text!r} is not a valid Maven version") from None
