"""Package name normalization: the second half of the index key (ecosystem, name).

Both sides of a lookup go through ``normalize``: names from advisories and names built
from a component's purl. Each ecosystem's own equivalence rule applies: PEP 503 for PyPI
(``Foo_Bar`` = ``foo-bar``), case-insensitive names for npm, Debian, Alpine and crates.io;
Maven is ``group:artifact``; Go and RPM names are case-sensitive and kept as written.
"""

from __future__ import annotations

import re

_PEP503 = re.compile(r"[-_.]+")
_LOWERCASE = frozenset({"npm", "deb", "apk", "cargo", "gem"})


def normalize(purl_type: str, name: str) -> str:
    name = name.strip()
    if purl_type == "pypi":
        return _PEP503.sub("-", name).lower()
    if purl_type in _LOWERCASE:
        return name.lower()
    return name


def purl_name(purl_type: str, namespace: str | None, name: str) -> str:
    """The ecosystem-native package name a purl stands for (as OSV writes it)."""
    if not namespace:
        return name
    if purl_type == "maven":
        return f"{namespace}:{name}"
    if purl_type in ("npm", "golang"):
        return f"{namespace}/{name}"
    return name  # deb/apk/rpm namespaces are the distribution, not part of the name
