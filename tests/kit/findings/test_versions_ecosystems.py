"""Version rules per ecosystem: each list below is in strictly ascending order."""

from __future__ import annotations

import pytest

from kit.findings.errors import FindingsError, InvalidVersion
from kit.findings.versions import scheme_for, split_osv_ecosystem

ASCENDING = {
    "npm": ["0.9.9", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
            "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.10.0", "2.0.0"],
    "apk": ["1.2_alpha", "1.2_beta2", "1.2_pre1", "1.2_rc1", "1.2", "1.2-r1", "1.2-r10",
            "1.2_cvs", "1.2_git20240101", "1.2_p1", "1.2_p2-r3", "1.2a", "1.2.1", "1.10"],
    "rpm": ["1.0~rc1-1", "1.0-1", "1.0-1.el8", "1.0-2", "1.0^git1-1", "1.0a-1", "1.0.1-1",
            "1.10-1", "1:0.1-1"],
    "golang": ["v0.0.0-20191109021931-daa7c04131f5", "v0.0.0-20200101000000-aaaaaaaaaaaa",
               "v0.1.0", "v1.2.3", "v1.2.4-0.20191109021931-daa7c04131f5", "v1.2.4",
               "v2.0.0-rc.1", "v2.0.0+incompatible"],
    "maven": ["1.0-alpha1", "1.0-beta1", "1.0-milestone1", "1.0-rc1", "1.0-SNAPSHOT", "1.0",
              "1.0-sp1", "1.0.1", "1.1", "1.10"],
    "gem": ["1.0.a", "1.0.b1", "1.0.rc1", "1.0", "1.0.1", "1.1", "1.10", "2.0.0.pre", "2.0.0"],
    "deb": ["0.9", "1.0~rc1", "1.0", "1.0-1", "1.0-1ubuntu1", "1.0+b1", "1:0.1"],
    "pypi": ["1.0.dev1", "1.0a1", "1.0b2", "1.0rc1", "1.0", "1.0.post1", "1.0.1", "1!0.1"],
}

EQUAL = [("npm", "1.0.0+build.1", "1.0.0+build.2"), ("npm", "v1.2.3", "1.2.3"),
         ("maven", "1.0", "1.0.0"), ("gem", "1.0", "1"), ("rpm", "0:1.0-1", "1.0-1"),
         ("pypi", "1.0", "1.0.0"), ("deb", "0:1.0", "1.0"), ("apk", "1.2-r0", "1.2"),
         ("golang", "v1.0.0+incompatible", "v1.0.0")]


@pytest.mark.parametrize("purl_type", sorted(ASCENDING))
def test_ascending(purl_type: str) -> None:
    parse = scheme_for(purl_type).parse
    values = ASCENDING[purl_type]
    for low, high in zip(values, values[1:]):
        assert parse(low) < parse(high), f"{purl_type}: {low} < {high}"
        assert not parse(high) < parse(low), f"{purl_type}: not {high} < {low}"


@pytest.mark.parametrize(("purl_type", "a", "b"), EQUAL)
def test_equal(purl_type: str, a: str, b: str) -> None:
    parse = scheme_for(purl_type).parse
    assert parse(a) == parse(b)


def test_rpm_missing_release_is_not_compared() -> None:
    parse = scheme_for("rpm").parse
    assert parse("1.0") == parse("1.0-5.el9")
    assert parse("1.0") < parse("1.0.1-1")


def test_rpm_missing_epoch_is_zero() -> None:
    parse = scheme_for("rpm").parse
    assert parse("2.0-1") < parse("1:1.0-1")


@pytest.mark.parametrize(("purl_type", "bad"), [("npm", "1.0.0-"), ("apk", "1.2_foo"),
                                                ("golang", "latest"), ("gem", "1..0"),
                                                ("pypi", "not a version"), ("rpm", "a:1")])
def test_invalid(purl_type: str, bad: str) -> None:
    with pytest.raises(InvalidVersion, match="not a valid"):
        scheme_for(purl_type).parse(bad)


def test_unknown_type() -> None:
    with pytest.raises(FindingsError, match="no version rules for package type 'swift'"):
        scheme_for("swift")


@pytest.mark.parametrize(("ecosystem", "expected"), [
    ("PyPI", ("pypi", "")), ("Debian:12", ("deb", "12")), ("Alpine:v3.19", ("apk", "v3.19")),
    ("Red Hat", ("rpm", "")), ("crates.io", ("cargo", "")), ("Go", ("golang", "")),
    ("Unknown", (None, ""))])
def test_osv_ecosystems(ecosystem: str, expected: tuple[str | None, str]) -> None:
    assert split_osv_ecosystem(ecosystem) == expected
