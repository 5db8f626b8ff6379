"""RubyGems versions, ordered as ``Gem::Version#<=>``.

Segments are runs of digits (numbers) or letters (strings); a ``-`` means ``.pre.``.
Any string segment makes the version a pre-release, and strings sort before numbers at
the same position (``1.0.a < 1.0``). Trailing zero segments are dropped before comparing
(canonical segments), so ``1.0 == 1``; missing segments count as 0.
"""

from __future__ import annotations

import re
from typing import Any

from kit.findings.versions.base import CmpVersion, require, sign

_GEM = re.compile(r"^[0-9]+(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$")
_SEGMENT = re.compile(r"[0-9]+|[a-zA-Z]+")

Segment = int | str


def _strip_zeros(segments: list[Segment]) -> list[Segment]:
    while segments and segments[-1] == 0:
        segments.pop()
    return segments


def canonical_segments(text: str) -> tuple[Segment, ...]:
    segments: list[Segment] = [int(s) if s.isdigit() else s
                               for s in _SEGMENT.findall(text.replace("-", ".pre."))]
    first_string = next((i for i, s in enumerate(segments) if isinstance(s, str)), len(segments))
    release = _strip_zeros(segments[:first_string])
    return tuple(release + _strip_zeros(segments[first_string:]))


class GemVersion(CmpVersion):
    __slots__ = ("segments",)

    def __init__(self, text: str) -> None:
        super().__init__(text)
        value = text.strip()
        require(text, bool(_GEM.match(value)), "RubyGems", "malformed version number")
        self.segments = canonical_segments(value)

    def _cmp(self, other: Any) -> int:
        left, right = self.segments, other.segments
        for i in range(max(len(left), len(right))):
            a = left[i] if i < len(left) else 0
            b = right[i] if i < len(right) else 0
            if a == b:
                continue
            if isinstance(a, int) and isinstance(b, int):
                return sign(a - b)
            if isinstance(a, str) and isinstance(b, str):
                return -1 if a < b else 1
            return -1 if isinstance(a, str) else 1
        return 0


def parse(text: str) -> GemVersion:
    return GemVersion(text)
