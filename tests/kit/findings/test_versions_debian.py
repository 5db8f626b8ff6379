"""Debian version ordering proved against ``dpkg --compare-versions`` on generated pairs."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from hypothesis import HealthCheck, Phase, given, settings, strategies as st

from kit.findings.versions.debian import DebianVersion

pytestmark = pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg is not installed")

_UP = "0123456789abcz.+~AZ"
_REV = "0123456789abz.+~"
upstream = st.builds(lambda d, rest: d + rest, st.sampled_from("0123456789"),
                     st.text(_UP, max_size=7))
epochs = st.none() | st.integers(0, 3)
revisions = st.none() | st.text(_REV, min_size=1, max_size=4)


def join(epoch: int | None, up: str, rev: str | None) -> str:
    return (f"{epoch}:" if epoch is not None else "") + up + (f"-{rev}" if rev else "")


@st.composite
def pairs(draw: st.DrawFn) -> tuple[str, str]:
    epoch, up, rev = draw(epochs), draw(upstream), draw(revisions)
    a = join(epoch, up, rev)
    if draw(st.booleans()):
        return a, join(draw(epochs), draw(upstream), draw(revisions))
    # Near-misses (same epoch, upstream with a small insertion), where ordering bugs hide.
    cut = draw(st.integers(1, len(up)))
    up2 = up[:cut] + draw(st.text("0~a.+1", max_size=2)) + up[cut:]
    return a, join(epoch, up2, draw(st.sampled_from([rev, None, "0", "1~"])))


def dpkg_signs(items: list[tuple[str, str]]) -> list[int]:
    """One shell for a whole batch: dpkg's verdict (-1/0/1) per pair, in order."""
    script = ('while IFS=" " read -r a b; do '
              'if dpkg --compare-versions "$a" lt "$b"; then echo -1; '
              'elif dpkg --compare-versions "$a" eq "$b"; then echo 0; else echo 1; fi; done')
    data = "".join(f"{a} {b}\n" for a, b in items)
    out = subprocess.run(["sh", "-c", script], input=data, capture_output=True, text=True,
                         check=True, env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"})
    return [int(x) for x in out.stdout.split()]


def ours(a: str, b: str) -> int:
    x, y = DebianVersion(a), DebianVersion(b)
    return -1 if x < y else (0 if x == y else 1)


# Shrinking a 250-pair batch through dpkg takes minutes; the failure message lists the
# disagreeing pairs themselves instead.
@settings(max_examples=12, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(pairs(), min_size=250, max_size=250))
def test_matches_dpkg_on_generated_pairs(batch: list[tuple[str, str]]) -> None:
    expected = dpkg_signs(batch)
    assert len(expected) == len(batch)
    wrong = [(a, b, e, ours(a, b)) for (a, b), e in zip(batch, expected) if ours(a, b) != e]
    assert not wrong, f"disagreements with dpkg (a, b, dpkg, ours): {wrong[:10]}"


KNOWN = [("1.0~rc1", "1.0"), ("1.0", "1.0+b1"), ("1:0.9", "2.0"), ("1.0-1", "1.0-1ubuntu1"),
         ("2.30-1", "2.3-1"), ("1.0~~", "1.0~"), ("1.0a", "1.0+"), ("0:1.0", "1.0"),
         ("1.0", "1.0-0"), ("3.0.11-1~deb12u2", "3.0.11-1")]


@pytest.mark.parametrize(("a", "b"), KNOWN)
def test_known_pairs_agree_with_dpkg(a: str, b: str) -> None:
    assert ours(a, b) == dpkg_signs([(a, b)])[0]


def test_rejects_bad_versions() -> None:
    from kit.findings.errors import InvalidVersion

    for bad in ("", "a:1.0", "1.0 2", "1:-1"):
        with pytest.raises(InvalidVersion, match="not a valid Debian version"):
            DebianVersion(bad)
