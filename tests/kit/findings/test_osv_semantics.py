"""OSV semantics: events, several pairs, last_affected, limit, versions lists, withdrawn,
database_specific, aliases unified, distribution source names."""

from __future__ import annotations

import pytest

from kit.findings.component import component_from_purl
from kit.findings.engine import evaluate
from kit.findings.index import MemoryIndex
from kit.findings.match import match

from .conftest import advisory

TWO_PAIRS = [{"introduced": "1.0"}, {"fixed": "1.5"}, {"introduced": "2.0"}, {"fixed": "2.5"}]


def affected(adv, purl: str) -> bool:  # type: ignore[no-untyped-def]
    return bool(match([component_from_purl(purl)], MemoryIndex([adv])).matches)


@pytest.mark.parametrize(("version", "expected"), [
    ("0.9", False), ("1.0", True), ("1.4.9", True), ("1.5", False), ("1.9", False),
    ("2.0", True), ("2.4", True), ("2.5", False), ("3.0", False)])
def test_several_introduced_fixed_pairs(version: str, expected: bool) -> None:
    adv = advisory("A-1", "demo", events=TWO_PAIRS)
    assert affected(adv, f"pkg:pypi/demo@{version}") is expected


def test_events_in_any_order() -> None:
    adv = advisory("A-1", "demo", events=list(reversed(TWO_PAIRS)))
    assert affected(adv, "pkg:pypi/demo@2.1") and not affected(adv, "pkg:pypi/demo@1.7")


@pytest.mark.parametrize(("version", "expected"), [("0.1", True), ("1.2", True), ("1.2.1", False)])
def test_last_affected_is_inclusive(version: str, expected: bool) -> None:
    adv = advisory("A-1", "demo", events=[{"introduced": "0"}, {"last_affected": "1.2"}])
    assert affected(adv, f"pkg:pypi/demo@{version}") is expected


@pytest.mark.parametrize(("version", "expected"), [("1.0", True), ("1.9", True), ("2.0", False)])
def test_limit_caps_the_range(version: str, expected: bool) -> None:
    adv = advisory("A-1", "demo", events=[{"introduced": "1.0"}, {"limit": "2.0"}])
    assert affected(adv, f"pkg:pypi/demo@{version}") is expected


def test_introduced_zero_includes_first_prerelease() -> None:
    adv = advisory("A-1", "demo", events=[{"introduced": "0"}, {"fixed": "1.0"}])
    assert affected(adv, "pkg:pypi/demo@0.0.1a1") and not affected(adv, "pkg:pypi/demo@1.0")


def test_versions_list_alone_and_with_ranges() -> None:
    listed = advisory("A-1", "demo", versions=["1.0", "1.1"])
    assert affected(listed, "pkg:pypi/demo@1.1") and affected(listed, "pkg:pypi/demo@1.0.0")
    assert not affected(listed, "pkg:pypi/demo@1.2")
    both = advisory("A-2", "demo", events=[{"introduced": "2.0"}, {"fixed": "2.1"}],
                    versions=["1.0"])
    assert affected(both, "pkg:pypi/demo@1.0") and affected(both, "pkg:pypi/demo@2.0")


def test_semver_range_for_npm() -> None:
    adv = advisory("A-1", "@scope/pkg", ecosystem="npm", range_type="SEMVER",
                   events=[{"introduced": "0"}, {"fixed": "1.2.3"}])
    assert affected(adv, "pkg:npm/%40scope/pkg@1.2.3-rc.1")
    assert not affected(adv, "pkg:npm/%40scope/pkg@1.2.3+build.5")


def test_git_ranges_never_match_versions() -> None:
    adv = advisory("A-1", "demo", range_type="GIT", events=[{"introduced": "0"}, {"fixed": "abc"}])
    assert not affected(adv, "pkg:pypi/demo@1.0")


def test_withdrawn_is_ignored() -> None:
    adv = advisory("A-1", "demo", events=[{"introduced": "0"}], withdrawn="2024-02-02T00:00:00Z")
    assert not affected(adv, "pkg:pypi/demo@1.0")


def test_database_specific_is_ignored_safely() -> None:
    adv = advisory("A-1", "demo", events=[{"introduced": "0"}],
                   database_specific={"severity": "HIGH", "cvss": 9.8, "nested": {"x": [1, 2]}})
    assert adv.label == "high" and affected(adv, "pkg:pypi/demo@1.0")


def test_pep503_names() -> None:
    adv = advisory("A-1", "Foo_Bar.baz", events=[{"introduced": "0"}])
    assert affected(adv, "pkg:pypi/foo-bar-baz@1.0")


def test_aliases_unified_into_one_finding() -> None:
    a = advisory("PYSEC-1", "demo", events=[{"introduced": "0"}], aliases=["CVE-2024-1"])
    b = advisory("GHSA-xxxx", "demo", events=[{"introduced": "0"}, {"fixed": "9"}],
                 aliases=["CVE-2024-1"])
    c = advisory("PYSEC-2", "demo", events=[{"introduced": "0"}])
    out = evaluate([component_from_purl("pkg:pypi/demo@1.0")], MemoryIndex([a, b, c]))
    assert [(f.id, f.advisories) for f in out.findings] == [
        ("CVE-2024-1", ("GHSA-xxxx", "PYSEC-1")), ("PYSEC-2", ("PYSEC-2",))]
    assert out.findings[0].fixed == ("9",)


def test_debian_source_and_alpine_origin_names() -> None:
    deb = advisory("DSA-1", "openssl", ecosystem="Debian:12",
                   events=[{"introduced": "0"}, {"fixed": "3.0.11-1~deb12u2"}])
    binary = "pkg:deb/debian/libssl3@3.0.11-1~deb12u1?arch=amd64&distro=debian-12&upstream=openssl"
    assert affected(deb, binary)
    assert not affected(deb, binary.replace("debian-12", "debian-11"))
    assert not affected(deb, binary.replace("pkg:deb/debian/", "pkg:deb/ubuntu/"))
    apk = advisory("ALPINE-1", "openssl", ecosystem="Alpine:v3.19",
                   events=[{"introduced": "0"}, {"fixed": "3.1.4-r5"}])
    assert affected(apk, "pkg:apk/alpine/libcrypto3@3.1.4-r4?distro=alpine-3.19.1&upstream=openssl")
    assert not affected(apk, "pkg:apk/alpine/libcrypto3@3.1.4-r5?upstream=openssl")


def test_rpm_epoch_qualifier() -> None:
    adv = advisory("RHSA-1", "openssl", ecosystem="Red Hat",
                   events=[{"introduced": "0"}, {"fixed": "1:1.1.1k-8.el8"}])
    assert affected(adv, "pkg:rpm/redhat/openssl@1.1.1k-7.el8?epoch=1")
    assert not affected(adv, "pkg:rpm/redhat/openssl@1.1.1k-9.el8?epoch=1")
    # The missing-epoch rule: no epoch means 0, which is below 1:anything.
    assert affected(adv, "pkg:rpm/redhat/openssl@3.0.0-1.el8")


def test_maven_go_gem_names() -> None:
    mvn = advisory("M-1", "org.apache.commons:commons-text", ecosystem="Maven",
                   events=[{"introduced": "1.5"}, {"fixed": "1.10.0"}])
    assert affected(mvn, "pkg:maven/org.apache.commons/commons-text@1.9")
    go = advisory("G-1", "golang.org/x/net", ecosystem="Go",
                  events=[{"introduced": "0"}, {"fixed": "0.17.0"}])
    assert affected(go, "pkg:golang/golang.org/x/net@v0.0.0-20220722155237-a158d28d115b")
    gem = advisory("R-1", "rack", ecosystem="RubyGems",
                   events=[{"introduced": "0"}, {"fixed": "2.2.8.1"}])
    assert affected(gem, "pkg:gem/rack@2.2.8") and not affected(gem, "pkg:gem/rack@3.0.0")


def test_source_version_from_upstream_qualifier() -> None:
    """A binNMU (1.0-2+b1) built from source 1.0-1 is vulnerable when 1.0-2 fixes the source."""
    adv = advisory("DSA-2", "foo", ecosystem="Debian:12", events=[{"introduced": "0"}, {"fixed": "1.0-2"}])
    assert affected(adv, "pkg:deb/debian/libfoo@1.0-2%2Bb1?upstream=foo%401.0-1")
    assert not affected(adv, "pkg:deb/debian/libfoo@1.0-2%2Bb1?upstream=foo%401.0-2")
    own = advisory("DSA-3", "libfoo", ecosystem="Debian:12", events=[{"introduced": "0"}, {"fixed": "1.0-2"}])
    assert not affected(own, "pkg:deb/debian/libfoo@1.0-2%2Bb1?upstream=foo%401.0-1")


@pytest.mark.parametrize(("ecosystem", "purl", "expected"), [
    ("Red Hat", "pkg:rpm/redhat/openssl@3.0.7-24.el9?distro=rhel-9.4", True),
    ("Red Hat:enterprise_linux:9::appstream", "pkg:rpm/redhat/openssl@3.0.7-24.el9?distro=rhel-9.4", True),
    ("Red Hat:enterprise_linux:8::appstream", "pkg:rpm/redhat/openssl@3.0.7-24.el9?distro=rhel-9.4", False),
    ("Red Hat", "pkg:rpm/rocky/openssl@3.0.7-24.el9?distro=rocky-9.3", True),      # a rebuild: RHEL data applies
    ("Rocky Linux:9", "pkg:rpm/redhat/openssl@3.0.7-24.el9?distro=rhel-9.4", False),  # and not the other way
    ("Rocky Linux:9", "pkg:rpm/rocky/openssl@3.0.7-24.el9?distro=rocky-9.3", True),
    ("SUSE:15.5", "pkg:rpm/redhat/openssl@3.0.7-24.el9?distro=rhel-9.4", False),
    ("Red Hat", "pkg:rpm/suse/openssl@3.0.7-24.el9?distro=sles-15.5", False),
    ("SUSE", "pkg:rpm/opensuse/openssl@3.0.7-24.el9", True),
    ("Red Hat", "pkg:rpm/openssl@3.0.7-24.el9", True),          # no namespace: nothing to tell them apart by
])
def test_rpm_advisories_match_their_distribution_family(ecosystem: str, purl: str, expected: bool) -> None:
    adv = advisory("RHSA-2", "openssl", ecosystem=ecosystem, events=[{"introduced": "0"}, {"fixed": "3.0.7-27.el9"}])
    assert affected(adv, purl) is expected
