"""Benchmark of the findings matcher (a script, not a test).

Generates realistic advisories from the real PyPA snapshot's shapes (each real record is
cloned under new package names, keeping its ranges, version lists, aliases and sizes)
and SBOM components drawn from the versions those advisories name (plus packages no
advisory mentions), then times matching with the in-memory index and the SQLite index:

    .venv/bin/python bench/match.py [--advisories 200000] [--components 10000]

Prints the time for N components, the ratio 2N/N (expected ~2: linear in components) and
the ratio at 2x advisories (expected well under 2: lookups are indexed, no cross product).
Index building is timed separately and not counted as matching.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from appliance.findings_index import SqliteAdvisoryIndex  # noqa: E402
from kit.findings.advisory import Advisory  # noqa: E402
from kit.findings.component import Component, component_from_purl  # noqa: E402
from kit.findings.index import MemoryIndex  # noqa: E402
from kit.findings.loader import load_advisories  # noqa: E402
from kit.findings.match import Matcher  # noqa: E402

SNAPSHOT = ROOT.parent / "shared" / "data" / "osv" / "pypa-advisory-database.zip"


def templates() -> tuple[Advisory, ...]:
    loaded = load_advisories([SNAPSHOT])
    return tuple(a for a in loaded.records if a.affected and not a.withdrawn)


def generate(base: tuple[Advisory, ...], count: int) -> list[Advisory]:
    """*count* advisories: template i % len(base), renamed to package variant i // len(base)."""
    out = []
    for i in range(count):
        t = base[i % len(base)]
        variant = i // len(base)
        affected = tuple(replace(e, name=f"{e.name}-v{variant}",
                                 normalized_name=f"{e.normalized_name}-v{variant}")
                         for e in t.affected)
        out.append(replace(t, id=f"{t.id}-{i}", aliases=tuple(f"{a}-{i}" for a in t.aliases),
                           affected=affected))
    return out


def components(advisories: list[Advisory], count: int, seed: int) -> list[Component]:
    """Components: 80 % packages some advisory names (picked uniformly by package, with a
    version from its advisories' lists or a random one), 20 % packages no advisory names.
    Packages are picked by name, not by advisory, as an image holds packages regardless of
    how many advisories each has (picking by advisory would overweight tensorflow-like
    packages that have hundreds)."""
    rng = random.Random(seed)
    versions: dict[str, set[str]] = {}
    for a in advisories:
        for e in a.affected:
            versions.setdefault(e.normalized_name, set()).update(e.versions)
    names = sorted(versions)
    out = []
    for i in range(count):
        if rng.random() < 0.8:
            name = rng.choice(names)
            listed = sorted(versions[name])
            version = rng.choice(listed) if listed and rng.random() < 0.7 else \
                f"{rng.randint(0, 30)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}"
            out.append(component_from_purl(f"pkg:pypi/{name}@{version}"))
        else:
            out.append(component_from_purl(f"pkg:pypi/unknown-package-{i}@1.0.{i % 7}"))
    return out


def timed(index: object, comps: list[Component]) -> tuple[float, int]:
    start = time.perf_counter()
    result = Matcher(index).match(comps)  # type: ignore[arg-type]
    return time.perf_counter() - start, len(result.matches)


def sqlite_index(advisories: list[Advisory], folder: Path, name: str) -> SqliteAdvisoryIndex:
    conn = sqlite3.connect(folder / f"{name}.db")
    index = SqliteAdvisoryIndex(conn)
    index.add(advisories)
    return index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--advisories", type=int, default=200_000)
    parser.add_argument("--components", type=int, default=10_000)
    args = parser.parse_args()
    base = templates()
    n_adv, n_comp = args.advisories, args.components
    small, large = generate(base, n_adv), generate(base, 2 * n_adv)
    comps = components(small, 2 * n_comp, seed=1)
    print(f"{len(base)} real templates -> {n_adv:,} and {2 * n_adv:,} advisories; "
          f"{n_comp:,} / {2 * n_comp:,} components")
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("memory", "sqlite"):
            t0 = time.perf_counter()
            idx_small = MemoryIndex(small) if kind == "memory" else sqlite_index(small, Path(tmp), "s")
            idx_large = MemoryIndex(large) if kind == "memory" else sqlite_index(large, Path(tmp), "l")
            built = time.perf_counter() - t0
            t_n, hits = timed(idx_small, comps[:n_comp])
            t_2n, _ = timed(idx_small, comps)
            # Fresh index objects for the advisory-scaling run, so no cache is shared.
            t_big, hits_big = timed(idx_large, comps[:n_comp])
            print(f"[{kind}] index build {built:.1f} s (both sizes)")
            print(f"[{kind}] {n_comp:,} components x {n_adv:,} advisories: {t_n:.3f} s "
                  f"({hits:,} matches)")
            print(f"[{kind}] ratio {2 * n_comp:,}/{n_comp:,} components: {t_2n / t_n:.2f}")
            print(f"[{kind}] ratio {2 * n_adv:,}/{n_adv:,} advisories: {t_big / t_n:.2f} "
                  f"({hits_big:,} matches)")


if __name__ == "__main__":
    main()
