"""More oracles found on this machine: Maven's own ComparableVersion (maven-artifact jar)
and npm's own semver package (bundled with npm). Each batch runs in one process."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings, strategies as st

from kit.findings.versions import scheme_for

MAVEN_JAR = Path("/usr/share/maven/lib/maven-artifact-3.x.jar")
NPM_SEMVER = Path("/usr/lib/node_modules/npm/node_modules/semver")
BATCH = settings(max_examples=8, deadline=None, phases=[Phase.explicit, Phase.generate],
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                        HealthCheck.large_base_example])


def sign(a: object, b: object) -> int:
    return -1 if a < b else (0 if a == b else 1)  # type: ignore[operator]


# --- Maven ---------------------------------------------------------------------------

# Version shapes seen in Maven Central and in OSV Maven advisories: a dotted numeric core,
# then at most one qualifier (with or without a number, joined by "-", "." or nothing).
# Exotic stacks of qualifiers ("1-ga.foo2", "4.RC.release.release0") are left out: there
# univers' port and Maven 3.8's CombinationItem rules differ (docs/findings.md).
numbered = st.sampled_from(["alpha", "beta", "milestone", "rc", "cr", "M", "RC", "CR", "sp", "a", "b"])
plain = st.sampled_from(["SNAPSHOT", "ga", "GA", "Final", "RELEASE", "jre", "android", "beta", "rc"])
qualifier = st.one_of(
    plain, st.builds(lambda name, num: f"{name}{num}", numbered, st.sampled_from(["1", "2", "-1", "10"])))


def maven_versions(sep: str) -> st.SearchStrategy[str]:
    return st.builds(lambda core, q: ".".join(map(str, core)) + (sep + q if q else ""),
                     st.lists(st.integers(0, 12), min_size=1, max_size=4),
                     st.one_of(st.just(""), qualifier))


# Qualifiers joined with "-" (the Maven Central majority: -SNAPSHOT, -rc1, -beta-2, -M1,
# -RELEASE). Qualifiers joined with "." ("3.0.RC1", "12.beta", "4.b-1") follow Maven 3.8's
# newer token rules, where univers' port differs in some comparisons (docs/findings.md).
maven_lists = st.lists(maven_versions("-"), min_size=300, max_size=300)


def maven_signs(versions: list[str]) -> list[int]:
    """ComparableVersion's verdict for each consecutive pair, from its own main()."""
    out = subprocess.run(["java", "-cp", str(MAVEN_JAR),
                          "org.apache.maven.artifact.versioning.ComparableVersion", *versions],
                         capture_output=True, text=True, check=True).stdout
    verdicts = [line.split()[1] for line in out.splitlines() if line.startswith("   ")]
    return [{"<": -1, "==": 0, ">": 1}[v] for v in verdicts]


@pytest.mark.skipif(not MAVEN_JAR.is_file() or shutil.which("java") is None,
                    reason="maven-artifact jar or java not installed")
@BATCH
@given(maven_lists)
def test_maven_matches_comparable_version(versions: list[str]) -> None:
    parse = scheme_for("maven").parse
    expected = maven_signs(versions)
    pairs = list(zip(versions, versions[1:]))
    wrong = [(a, b, e, sign(parse(a), parse(b))) for (a, b), e in zip(pairs, expected)
             if sign(parse(a), parse(b)) != e]
    assert not wrong, f"disagreements (a, b, maven, ours): {wrong[:10]}"


# --- npm semver ----------------------------------------------------------------------

ident = st.one_of(st.integers(0, 20).map(str), st.sampled_from(["alpha", "beta", "rc", "x", "a1", "0a"]))
semver_version = st.builds(
    lambda core, pre, build: ".".join(map(str, core)) + (f"-{'.'.join(pre)}" if pre else "")
    + (f"+{'.'.join(build)}" if build else ""),
    st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)),
    st.lists(ident, max_size=3), st.lists(st.sampled_from(["b1", "001", "sha"]), max_size=2))


def npm_signs(pairs: list[tuple[str, str]]) -> list[int]:
    script = (f"const s = require({json.dumps(str(NPM_SEMVER))});"
              "const pairs = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
              "console.log(JSON.stringify(pairs.map(([a, b]) => s.compare(a, b))));")
    out = subprocess.run(["node", "-e", script], input=json.dumps(pairs), capture_output=True,
                         text=True, check=True).stdout
    return list(json.loads(out))


@pytest.mark.skipif(not NPM_SEMVER.is_dir() or shutil.which("node") is None,
                    reason="node or npm's semver package not installed")
@BATCH
@given(st.lists(semver_version, min_size=40, max_size=40))
def test_semver_matches_npm(versions: list[str]) -> None:
    """Every pair of 40 generated versions (780 pairs per example)."""
    parse = scheme_for("npm").parse
    pairs = [(a, b) for i, a in enumerate(versions) for b in versions[i + 1:]]
    expected = npm_signs(pairs)
    wrong = [(a, b, e, sign(parse(a), parse(b))) for (a, b), e in zip(pairs, expected)
             if sign(parse(a), parse(b)) != e]
    assert not wrong, f"disagreements (a, b, npm, ours): {wrong[:10]}"
