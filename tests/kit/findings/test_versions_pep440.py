"""PyPI rules and the OSV range walk, proved against packaging's specifiers as oracle."""

from __future__ import annotations

from hypothesis import assume, given, settings, strategies as st
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from kit.findings.advisory import Event, Range
from kit.findings.ranges import in_range
from kit.findings.versions import scheme_for

PYPI = scheme_for("pypi")

release = st.lists(st.integers(0, 12), min_size=1, max_size=4).map(lambda p: ".".join(map(str, p)))
pre = st.none() | st.tuples(st.sampled_from(["a", "b", "rc"]), st.integers(0, 3))
versions = st.builds(
    lambda epoch, rel, pr, post, dev: (f"{epoch}!" if epoch else "") + rel
    + (f"{pr[0]}{pr[1]}" if pr else "") + (f".post{post}" if post is not None else "")
    + (f".dev{dev}" if dev is not None else ""),
    st.sampled_from([0, 0, 0, 1]), release, pre, st.none() | st.integers(0, 2),
    st.none() | st.integers(0, 2))


@settings(max_examples=1500, deadline=None)
@given(versions, versions)
def test_order_matches_packaging(a: str, b: str) -> None:
    x, y = PYPI.parse(a), PYPI.parse(b)
    assert (x < y) == (Version(a) < Version(b))
    assert (x == y) == (Version(a) == Version(b))


@settings(max_examples=1500, deadline=None)
@given(versions, st.lists(versions, min_size=2, max_size=6, unique=True))
def test_range_walk_matches_specifier_sets(version: str, bounds: list[str]) -> None:
    """introduced/fixed pairs ⇔ the union of ``introduced <= v < fixed`` intervals."""
    ordered = sorted(set(bounds), key=Version)
    ordered = [b for i, b in enumerate(ordered) if i == 0 or Version(b) != Version(ordered[i - 1])]
    # "introduced: 0" is OSV's "from the beginning" sentinel; only meaningful first.
    assume("0" not in ordered[1:])
    pairs = list(zip(ordered[::2], ordered[1::2]))
    events = tuple(Event(kind, v) for lo, hi in pairs for kind, v in (("introduced", lo), ("fixed", hi)))
    # OSV ranges are pure ordering: PEP 440's exclusive-specifier rule ("<1.0" excludes
    # 1.0a1) does not apply, and introduced "0" means "from the very first version".
    v = Version(version)
    expected = any((lo == "0" or Version(lo) <= v) and v < Version(hi) for lo, hi in pairs)
    if all(lo != "0" for lo, _ in pairs):
        # Where the rule cannot bite (no pre-release of a fixed version), it agrees with
        # packaging's own specifier sets too.
        spec = [SpecifierSet(f">={lo},<{hi}", prereleases=True) for lo, hi in pairs]
        if not v.is_prerelease:  # PEP 440's "<V" excludes V's pre/dev releases; ranges don't
            assert expected == any(v in s for s in spec)
    assert in_range(PYPI.parse(version), Range("ECOSYSTEM", events), PYPI) == expected
