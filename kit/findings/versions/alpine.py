"""Alpine apk versions, ordered as apk-tools' ``apk_version_compare`` does.

``1.2.3[letter][_suffix[N]]…[~hash][-rN]``: numeric parts compare as integers part by
part (a version with more parts is newer when the shared parts are equal), then an
optional single letter (``1.2a > 1.2``), then suffixes, then the package revision
``-rN``. Pre-release suffixes ``_alpha < _beta < _pre < _rc`` sort before the plain
version; ``_cvs < _svn < _git < _hg < _p`` sort after it. Known simplification: apk
compares a non-first part with a leading zero as a decimal fraction (``1.02 < 1.1``);
here it compares as an integer. No Alpine advisory we have seen depends on it.
"""

from __future__ import annotations

import re

from kit.findings.versions.base import require

_APK = re.compile(
    r"^(?P<nums>\d+(?:\.\d+)*)(?P<letter>[a-z]?)"
    r"(?P<suffixes>(?:_(?:alpha|beta|pre|rc|cvs|svn|git|hg|p)\d*)*)"
    r"(?:~[0-9a-f]+)?(?:-r(?P<rev>\d+))?$"
)
_RANK = {"alpha": 0, "beta": 1, "pre": 2, "rc": 3, "cvs": 5, "svn": 6, "git": 7, "hg": 8, "p": 9}
_RELEASE = (4, 0)  # a version with no (more) suffix sits between _rc and _cvs
_SUFFIX = re.compile(r"_([a-z]+)(\d*)")

Key = tuple[tuple[int, ...], str, tuple[tuple[int, int], ...], int]


def parse(text: str) -> Key:
    match = _APK.match(text.strip())
    require(text, match is not None, "Alpine", "expected N.N[letter][_suffix][-rN]")
    assert match is not None
    nums = tuple(int(p) for p in match.group("nums").split("."))
    suffixes = tuple((_RANK[name], int(num or 0))
                     for name, num in _SUFFIX.findall(match.group("suffixes")))
    return (nums, match.group("letter"), suffixes + (_RELEASE,), int(match.group("rev") or 0))
