"""RPM ordering: ``rpmvercmp`` (rpm's lib/rpmvercmp.c) over ``[epoch:]version[-release]``.

Segments of digits or letters are compared one by one (numbers numerically, a number
beats letters), separators are skipped, ``~`` sorts before anything (pre-release) and
``^`` after the base version but before anything else (post-release snapshot).

Missing-epoch rule: a version written without an epoch has epoch 0, as rpm 4.x and dnf
treat it (``1.0-1 == 0:1.0-1``). Advisories that omit the epoch of a package whose real
epoch is not 0 therefore compare lower; components carry their epoch from the purl's
``epoch`` qualifier. Missing-release rule: when either side has no release, releases are
not compared (rpm's own behaviour for ``fixed: 1.2.3`` style bounds).
"""

from __future__ import annotations

from typing import Any

from kit.findings.versions.base import CmpVersion, require, sign


def _skip(s: str, i: int) -> int:
    while i < len(s) and not s[i].isalnum() and s[i] not in "~^":
        i += 1
    return i


def _run(s: str, i: int, digits: bool) -> int:
    while i < len(s) and s[i].isascii() and (s[i].isdigit() if digits else s[i].isalpha()):
        i += 1
    return i


def _separator(a: str, b: str, i: int, j: int, char: str) -> int | None:
    """Result of the ``~``/``^`` rules at this position, or None when neither applies."""
    ca, cb = a[i] if i < len(a) else "", b[j] if j < len(b) else ""
    if char not in (ca, cb):
        return None
    if char == "~":
        return 0 if ca == cb else (-1 if ca == "~" else 1)
    if not ca:
        return -1
    if not cb:
        return 1
    return 0 if ca == cb else (1 if ca != "^" else -1)


def rpmvercmp(a: str, b: str) -> int:
    """-1, 0 or 1 as rpm orders two version (or release) strings."""
    if a == b:
        return 0
    i = j = 0
    while i < len(a) or j < len(b):
        i, j = _skip(a, i), _skip(b, j)
        for char in "~^":
            found = _separator(a, b, i, j, char)
            if found is not None:
                break
        if found is not None:
            if found:
                return found
            i, j = i + 1, j + 1
            continue
        if i >= len(a) or j >= len(b):
            break
        digits = a[i].isdigit()
        ei, ej = _run(a, i, digits), _run(b, j, digits)
        seg_a, seg_b = a[i:ei], b[j:ej]
        if not seg_b:
            return 1 if digits else -1
        if digits:
            seg_a, seg_b = seg_a.lstrip("0"), seg_b.lstrip("0")
            if len(seg_a) != len(seg_b):
                return sign(len(seg_a) - len(seg_b))
        if seg_a != seg_b:
            return -1 if seg_a < seg_b else 1
        i, j = ei, ej
    if i >= len(a) and j >= len(b):
        return 0
    return -1 if i >= len(a) else 1


class RpmVersion(CmpVersion):
    __slots__ = ("epoch", "version", "release")

    def __init__(self, text: str) -> None:
        super().__init__(text)
        value = text.strip()
        require(text, bool(value) and " " not in value, "RPM", "empty or contains spaces")
        epoch, colon, rest = value.partition(":")
        if not colon:
            epoch, rest = "0", value  # the missing-epoch rule: epoch 0
        require(text, epoch.isdigit(), "RPM", "epoch is not a number")
        version, hyphen, release = rest.rpartition("-")
        if not hyphen:
            version, release = rest, ""
        require(text, bool(version), "RPM", "empty version")
        self.epoch, self.version, self.release = int(epoch), version, release

    def _cmp(self, other: Any) -> int:
        if self.epoch != other.epoch:
            return sign(self.epoch - other.epoch)
        found = rpmvercmp(self.version, other.version)
        if found or not self.release or not other.release:
            return found
        return rpmvercmp(self.release, other.release)


def parse(text: str) -> RpmVersion:
    return RpmVersion(text)
