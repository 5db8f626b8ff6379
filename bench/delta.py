"""Delta kits on a realistic next day: size, and build and import times of full vs delta.

Day 1: N OSV advisory records, a policy pack, an OpenVEX document and three images in the
test registry sharing a base layer (incompressible data, as compressed layers are). Day 2:
1 % of the records changed, one image rebuilt with one new top layer, one VEX statement
edited (``tests/bundler/nextday.py``). In one run, best of --reps each:

    build   stella-bundler build day2 (full)  vs  … --base day1.kit --trust ROOT (delta)
            (the image cache is warm for both: what differs is verifying the base and packing)
    import  stella import day2.full  vs  stella import day2.delta, each into a copy of a
            home that holds day 1

Prints the sizes (file bytes) and the delta's share of the full kit (goal <= 5 %), and
the times. Needs the test registry:

    eval "$(./build.sh services start)"; .venv/bin/python bench/delta.py [--records 20000] [--base-mib 48]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _util import BIN, Run, best, timed  # noqa: E402

from tests.bundler.nextday import Scale, push_images, write_site  # noqa: E402

BUNDLER, STELLA = str(BIN / "stella-bundler"), str(BIN / "stella")


def _build(spec: Path, out: Path, key: Path, cache: Path, *more: str) -> Run:
    return timed([BUNDLER, "build", str(spec), "--key", str(key), "--cache-dir", str(cache), "--out", str(out),
                  "--no-progress", *more])


def _import(day1_home: Path, kit: Path, scratch: Path) -> Run:
    home = scratch / "home"
    if home.exists():
        shutil.rmtree(home)
    shutil.copytree(day1_home, home, symlinks=True)
    return timed([STELLA, "import", str(kit), "--no-seed", "--home", str(home)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=20000, help="advisory records")
    parser.add_argument("--base-mib", type=int, default=48, help="incompressible MiB in the shared base layer")
    parser.add_argument("--app-mib", type=int, default=8, help="incompressible MiB in each application layer")
    parser.add_argument("--reps", type=int, default=2)
    args = parser.parse_args()
    registry = os.environ.get("STELLA_TEST_REGISTRY")
    if not registry:
        raise SystemExit("needs the test registry: eval \"$(./build.sh services start)\" (STELLA_TEST_REGISTRY)")
    scale = Scale(records=args.records, base_bytes=args.base_mib << 20, app_bytes=args.app_mib << 20)
    with tempfile.TemporaryDirectory(prefix="bench-delta-") as tmp:
        work = Path(tmp)
        key, trust, cache = work / "key", work / "trust.json", work / "cache"
        timed([BUNDLER, "keygen", "--out", str(key)])
        timed([BUNDLER, "trust", "init", "--key", str(key), "--threshold", "1", "--expires", "2099-12-31",
               "--out", str(trust)])
        spec = write_site(work / "site", 1, push_images(registry, work, 1, scale), registry, scale)
        _build(spec, work / "day1.kit", key, cache)
        spec = write_site(work / "site", 2, push_images(registry, work, 2, scale), registry, scale)
        _build(spec, work / "warm.kit", key, cache)            # pulls day 2's new layer: both contenders start warm
        full_runs, delta_runs = [], []
        for _ in range(args.reps):
            full_runs.append(_build(spec, work / "day2.kit", key, cache))
            delta_runs.append(_build(spec, work / "day2.delta", key, cache, "--base", str(work / "day1.kit"),
                                     "--trust", str(trust)))
        day1_home = work / "day1-home"
        timed([STELLA, "init", "--trust", str(trust), "--registry-addr", "127.0.0.1:9", "--home", str(day1_home)])
        timed([STELLA, "import", str(work / "day1.kit"), "--no-seed", "--home", str(day1_home)])
        imp_full, imp_delta = [], []
        for _ in range(args.reps):
            imp_full.append(_import(day1_home, work / "day2.kit", work))
            imp_delta.append(_import(day1_home, work / "day2.delta", work))
        full, delta = (work / "day2.kit").stat().st_size, (work / "day2.delta").stat().st_size
        print(f"next day: {args.records} advisory records (1 % changed), 3 images ({args.base_mib} MiB shared base, "
              f"{args.app_mib} MiB per app; one rebuilt with a new top layer), VEX edited")
        print(f"size:   full {full / 2**20:8.2f} MiB   delta {delta / 2**20:8.2f} MiB   "
              f"delta = {delta / full:.2%} of full (goal <= 5 %)")
        for what, a, b in (("build", best(full_runs), best(delta_runs)), ("import", best(imp_full), best(imp_delta))):
            print(f"{what}:  full {a.seconds:7.2f} s ({a.max_rss_mib:.0f} MiB RSS)   "
                  f"delta {b.seconds:7.2f} s ({b.max_rss_mib:.0f} MiB RSS)   delta/full {b.seconds / a.seconds:.2f}")


if __name__ == "__main__":
    main()
