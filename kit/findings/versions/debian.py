"""Debian version ordering, exactly as dpkg's ``verrevcmp`` (lib/dpkg/version.c).

``[epoch:]upstream[-revision]``: epochs compare as integers; upstream and revision are
compared as alternating non-digit / digit runs. In non-digit runs ``~`` sorts before
everything, even the end of the string (so ``1.0~rc1 < 1.0``), letters sort before
other characters, and digits compare numerically. A missing revision equals ``0``.
Written out rather than taken from univers so the hot path stays small; the property
test in tests/findings proves it against ``dpkg --compare-versions`` itself.
"""

from __future__ import annotations

import re
from typing import Any

from kit.findings.versions.base import CmpVersion, require, sign

_VALID = re.compile(r"^[A-Za-z0-9.+~:-]+$")
_DIGITS = frozenset("0123456789")


def _order(char: str) -> int:
    if char == "~":
        return -1
    if char in _DIGITS:
        return 0
    if char.isascii() and char.isalpha():
        return ord(char)
    return ord(char) + 256


def verrevcmp(a: str, b: str) -> int:
    """dpkg's comparison of one upstream or revision part; sign of the result matters."""
    i = j = 0
    la, lb = len(a), len(b)
    while i < la or j < lb:
        while (i < la and a[i] not in _DIGITS) or (j < lb and b[j] not in _DIGITS):
            ac = _order(a[i]) if i < la else 0
            bc = _order(b[j]) if j < lb else 0
            if ac != bc:
                return ac - bc
            i += 1
            j += 1
        while i < la and a[i] == "0":
            i += 1
        while j < lb and b[j] == "0":
            j += 1
        first_diff = 0
        while i < la and a[i] in _DIGITS and j < lb and b[j] in _DIGITS:
            if not first_diff:
                first_diff = ord(a[i]) - ord(b[j])
            i += 1
            j += 1
        if i < la and a[i] in _DIGITS:
            return 1
        if j < lb and b[j] in _DIGITS:
            return -1
        if first_diff:
            return first_diff
    return 0


class DebianVersion(CmpVersion):
    __slots__ = ("epoch", "upstream", "revision")

    def __init__(self, text: str) -> None:
        super().__init__(text)
        value = text.strip()
        require(text, bool(value) and bool(_VALID.match(value)), "Debian", "bad characters")
        epoch, colon, rest = value.partition(":")
        if not colon:
            epoch, rest = "0", value
        require(text, epoch.isdigit(), "Debian", "epoch is not a number")
        upstream, hyphen, revision = rest.rpartition("-")
        if not hyphen:
            upstream, revision = rest, ""
        require(text, bool(upstream), "Debian", "empty upstream version")
        self.epoch = int(epoch)
        self.upstream = upstream
        self.revision = revision

    def _cmp(self, other: Any) -> int:
        if self.epoch != other.epoch:
            return sign(self.epoch - other.epoch)
        found = verrevcmp(self.upstream, other.upstream)
        if found:
            return sign(found)
        return sign(verrevcmp(self.revision, other.revision))


def parse(text: str) -> DebianVersion:
    return DebianVersion(text)
