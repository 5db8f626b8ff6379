"""CVSS base scores against published scores (FIRST specification examples, NVD)."""

from __future__ import annotations

import pytest

from kit.findings.cvss import base_score, label_for
from kit.findings.errors import FindingsFormatError

KNOWN = [
    # v3.1 / v3.0 (FIRST v3.1 examples and NVD)
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "9.8"),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", "6.1"),  # CVE-2013-1937 style XSS
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", "10.0"),
    ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", "5.5"),
    ("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", "5.9"),  # CVE-2014-0160 Heartbleed
    ("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", "7.5"),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", "0.0"),
    ("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", "1.6"),
    # v2
    ("AV:N/AC:L/Au:N/C:P/I:P/A:P", "7.5"),
    ("AV:N/AC:L/Au:N/C:C/I:C/A:C", "10.0"),
    ("AV:N/AC:M/Au:N/C:N/I:P/A:N", "4.3"),
    # v4.0 (FIRST calculator / NVD)
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "9.3"),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H", "10.0"),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:L/VA:L/SC:N/SI:N/SA:N", "6.9"),
    ("CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "8.5"),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:A/VC:N/VI:N/VA:N/SC:L/SI:L/SA:N", "5.1"),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N", "0.0"),
    ("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U", "9.3"),  # CVSS-B
]


@pytest.mark.parametrize(("vector", "score"), KNOWN)
def test_known_scores(vector: str, score: str) -> None:
    assert base_score(vector) == score


@pytest.mark.parametrize("vector", ["CVSS:3.1/AV:N/AC:L", "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                                    "CVSS:4.0/AV:N", "CVSS:9/AV:N", "CVSS:3.1/AV:N/AV:N"])
def test_malformed_vectors(vector: str) -> None:
    with pytest.raises(FindingsFormatError):
        base_score(vector)


def test_labels() -> None:
    assert [label_for(s) for s in ("9.0", "7.0", "4.0", "0.1", "0.0")] == [
        "critical", "high", "medium", "low", "none"]
