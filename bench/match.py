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
import gc
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
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
from kit.findings.versions import scheme_for  # noqa: E402

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


def fresh_caches() -> None:
    """Forget parsed versions, so every timed run starts cold (a fair ratio)."""
    scheme_for.cache_clear()


REPEAT = 5


def timed(make_index: Callable[[], object], comps: list[Component]) -> tuple[float, int]:
    """Best of REPEAT cold runs, in CPU seconds (the minimum is the least noisy)."""
    runs = [_timed_once(make_index(), comps) for _ in range(REPEAT)]
    WALL.append(min(w for _, _, w in runs))
    return min(t for t, _, _ in runs), runs[0][1]


WALL: list[float] = []  # best wall-clock time of each timed() call, for the report


def _timed_once(index: object, comps: list[Component]) -> tuple[float, int, float]:
    fresh_caches()
    gc.collect()
    # CPU time of this process: the machine is shared with other jobs, and wall time
    # under contention measures them, not the matcher.
    start, wall = time.process_time(), time.perf_counter()
    result = Matcher(index).match(comps)  # type: ignore[arg-type]
    elapsed, wall = time.process_time() - start, time.perf_counter() - wall
    return elapsed, len(result.matches), wall


def build_sqlite(base: tuple[Advisory, ...], count: int, path: Path) -> float:
    start = time.perf_counter()
    conn = sqlite3.connect(path)
    SqliteAdvisoryIndex(conn).add(generate(base, count))
    conn.commit()
    conn.close()
    return time.perf_counter() - start


def run_memory(base: tuple[Advisory, ...], n_adv: int, comps: list[Component]) -> None:
    n_comp = len(comps) // 2
    small = generate(base, n_adv)
    t_n, hits = timed(lambda: MemoryIndex(small), comps[:n_comp])
    t_2n, _ = timed(lambda: MemoryIndex(small), comps)
    small = ()   # free the first index's advisories before the large one is generated
    large = generate(base, 2 * n_adv)
    t_big, hits_big = timed(lambda: MemoryIndex(large), comps[:n_comp])
    report("memory", n_adv, n_comp, t_n, hits, t_2n, t_big, hits_big)


def run_sqlite(base: tuple[Advisory, ...], n_adv: int, comps: list[Component], tmp: Path) -> None:
    n_comp = len(comps) // 2
    built = build_sqlite(base, n_adv, tmp / "s.db") + build_sqlite(base, 2 * n_adv, tmp / "l.db")
    print(f"[sqlite] index build {built:.1f} s (both sizes, not counted)")
    small, large = sqlite3.connect(tmp / "s.db"), sqlite3.connect(tmp / "l.db")
    t_n, hits = timed(lambda: SqliteAdvisoryIndex(small), comps[:n_comp])
    t_2n, _ = timed(lambda: SqliteAdvisoryIndex(small), comps)
    t_big, hits_big = timed(lambda: SqliteAdvisoryIndex(large), comps[:n_comp])
    report("sqlite", n_adv, n_comp, t_n, hits, t_2n, t_big, hits_big)


def report(kind: str, n_adv: int, n_comp: int, t_n: float, hits: int, t_2n: float,
           t_big: float, hits_big: int) -> None:
    print(f"[{kind}] {n_comp:,} components x {n_adv:,} advisories: {t_n:.3f} s CPU, "
          f"{WALL[-3]:.3f} s wall ({hits:,} matches)")
    print(f"[{kind}] ratio {2 * n_comp:,}/{n_comp:,} components: {t_2n / t_n:.2f}")
    print(f"[{kind}] ratio {2 * n_adv:,}/{n_adv:,} advisories: {t_big / t_n:.2f} "
          f"({hits_big:,} matches)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--advisories", type=int, default=200_000)
    parser.add_argument("--components", type=int, default=10_000)
    parser.add_argument("--skip-sqlite", action="store_true", help="only the in-memory index")
    args = parser.parse_args()
    base = templates()
    comps = components(generate(base, args.advisories), 2 * args.components, seed=1)
    print(f"{len(base)} real templates -> {args.advisories:,} and {2 * args.advisories:,} "
          f"advisories; {args.components:,} / {2 * args.components:,} components")
    run_memory(base, args.advisories, comps)
    if args.skip_sqlite:
        return
    with tempfile.TemporaryDirectory() as tmp:
        run_sqlite(base, args.advisories, comps, Path(tmp))


if __name__ == "__main__":
    main()
