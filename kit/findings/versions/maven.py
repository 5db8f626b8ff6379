"""Maven versions, ordered as Maven's ``ComparableVersion``, through univers.

univers' ``MavenVersion`` is a port of ComparableVersion (qualifiers ``alpha < beta <
milestone < rc = cr < snapshot < "" = ga = final = release < sp``, trailing zeros and
separators normalised, so ``1.0 == 1.0.0`` and ``1.0-alpha1 < 1.0``). Checked against
Maven's own ComparableVersion (maven-artifact 3.8.7) by a property test on the version
shapes Maven Central uses; the differences found in common shapes are patched here (``release`` as an alias of
``ga``; ``a1``/``b1``/``m1`` as alpha/beta/milestone 1).
"""

from __future__ import annotations

import re
from typing import Any

from kit.findings.errors import InvalidVersion

# univers is imported on the first Maven version parsed (~40 ms at start-up otherwise,
# paid by every command that evaluates gates, Maven components or not)


_RELEASE_TOKEN = re.compile(r"(?<![0-9a-z])release(?![a-z0-9])")
_SHORTHAND = re.compile(r"(?<![a-z])([abm])(?=[0-9])")
_LONG = {"a": "alpha", "b": "beta", "m": "milestone"}


def parse(text: str) -> Any:
    # Maven 3.8's ComparableVersion reads "release" like "ga"/"final" (5.3.0.RELEASE ==
    # 5.3.0); univers does not, so the token is spelt "final" first. Maven lower-cases too.
    value = _RELEASE_TOKEN.sub("final", text.strip().lower())
    # "b1" is Maven shorthand for beta-1 (likewise a1, m1).
    value = _SHORTHAND.sub(lambda m: _LONG[m.group(1)], value)
    from univers.versions import InvalidVersion as _UniversInvalid, MavenVersion

    try:
        return MavenVersion(value)
    except (_UniversInvalid, ValueError, TypeError):
        raise InvalidVersion(f"{text!r} is not a valid Maven version") from None
