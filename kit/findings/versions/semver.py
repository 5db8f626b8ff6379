"""SemVer 2.0.0 precedence, as npm, crates.io and OSV ``SEMVER`` ranges use it.

``MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]``. A pre-release sorts before its release;
pre-release identifiers compare numerically when both are numeric, numeric ones sort
before alphanumeric ones, and a shorter list of equal identifiers sorts first. Build
metadata never affects ordering (``1.0.0+a == 1.0.0+b``). A leading ``v`` or ``=`` is
accepted, as npm does; missing minor/patch parts are read as 0 for OSV records that
write ``1.2``.

The parsed value is a plain tuple key, so comparisons run at C speed.
"""

from __future__ import annotations

import re

from kit.findings.versions.base import require

_SEMVER = re.compile(
    r"^[v=]?(?P<core>\d+(?:\.\d+){0,2})"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+(?P<build>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)

Key = tuple[int, int, int, tuple[tuple[int, int, str], ...]]


def _prerelease_key(pre: str | None) -> tuple[tuple[int, int, str], ...]:
    if pre is None:
        # A release sorts after every pre-release of the same core: (1,) > (0, ...).
        return ((1, 0, ""),)
    parts: list[tuple[int, int, str]] = [(0, 0, "")]
    for ident in pre.split("."):
        parts.append((0, int(ident), "") if ident.isdigit() else (1, 0, ident))
    return tuple(parts)


def key(text: str, ecosystem: str = "SemVer") -> Key:
    """The ordering key of *text*; raises ``InvalidVersion`` when it is not SemVer."""
    match = _SEMVER.match(text.strip())
    require(text, match is not None, ecosystem, "expected MAJOR.MINOR.PATCH[-pre][+build]")
    assert match is not None
    core = [int(p) for p in match.group("core").split(".")] + [0, 0]
    return (core[0], core[1], core[2], _prerelease_key(match.group("pre")))


def parse(text: str) -> Key:
    return key(text)
