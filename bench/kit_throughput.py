"""Kit build and verify throughput against the shell pipelines doing the same work.

Builds a kit carrying about 1 GiB of attachments (half random, half compressible text),
then verifies it. In the same run it times, over the same bytes:
    build baseline:  tar -c … | zstd -3 -T2 | openssl dgst -sha256
    verify baseline: zstd -dc KIT | openssl dgst -sha256
and prints the ratios (ours / baseline; goal <= 1.3) and our peak RSS (goal < 200 MB).

    ./build.sh bench kit_throughput [--size-mib 1024] [--reps 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import BIN, best, timed, warm  # noqa: E402

WORDS = ("release kit advisory digest manifest image layer policy gate verify stream sign "
         "container registry promote approve deploy rollback sticker drift evidence audit trust "
         "channel sequence expires created compose service health status version vendor").split()


def make_inputs(folder: Path, size_mib: int, seed: int = 7) -> list[Path]:
    """Half random bytes, half text; 64 MiB files."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    half = size_mib // 2
    for i in range(max(1, half // 64)):
        path = folder / f"random-{i:02d}.bin"
        with open(path, "wb") as fh:
            for _ in range(64):
                fh.write(os.urandom(1 << 20))
        files.append(path)
    # 4 MiB of varied text, repeated with a per-copy header: the repeats are further apart
    # than zstd -3's window, so the ratio is the text's own.
    block = "\n".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 14))) + f" {rng.random():.6f}"
                      for _ in range(70000)).encode()[:4 << 20]
    for i in range(max(1, half // 64)):
        path = folder / f"text-{i:02d}.txt"
        with open(path, "wb") as fh:
            for j in range(16):
                fh.write(f"chunk {i}.{j}\n".encode())
                fh.write(block)
        files.append(path)
    return files


def write_spec(folder: Path) -> Path:
    spec = folder / "kit.yaml"
    spec.write_text("kit: {name: bench, channel: stable, sequence: 1, created: 2026-11-01T00:00:00Z, "
                    "expires: 2099-01-01T00:00:00Z}\nattachments: [data]\n")
    return spec


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = ap.parse_args()
    for tool in ("tar", "zstd", "openssl"):
        if shutil.which(tool) is None:
            raise SystemExit(f"missing {tool} (run ./build.sh setup)")
    work = args.keep or Path(tempfile.mkdtemp(prefix="stella-bench-kit-"))
    try:
        run(work, args.size_mib, args.reps)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


def run(work: Path, size_mib: int, reps: int) -> None:
    data = work / "data"
    files = make_inputs(data, size_mib) if not data.exists() else sorted(data.iterdir())
    total = sum(f.stat().st_size for f in files)
    spec = write_spec(work)
    bundler, verify = str(BIN / "stella-bundler"), str(BIN / "stella-verify")
    subprocess.run([bundler, "keygen", "--out", str(work / "key"), "--force"], check=True, capture_output=True)
    subprocess.run([bundler, "trust", "init", "--key", str(work / "key"), "--threshold", "1", "--expires",
                    "2099-01-01", "--out", str(work / "trust.json")], check=True, capture_output=True)
    kit = work / "bench.stella-kit"
    warm(files)
    build_base, build_ours, verify_base, verify_ours = [], [], [], []
    for _ in range(reps):
        build_base.append(timed(f"tar -C {work} -cf - data | zstd -q -3 -T2 | openssl dgst -sha256", shell=True))
        build_ours.append(timed([bundler, "build", str(spec), "--key", str(work / "key"), "--out", str(kit),
                                 "--no-progress"]))
        verify_base.append(timed(f"zstd -q -dc {kit} | openssl dgst -sha256", shell=True))
        verify_ours.append(timed([verify, "kit", str(kit), "--trust", str(work / "trust.json"), "--no-progress"]))
    bb, bo, vb, vo = best(build_base), best(build_ours), best(verify_base), best(verify_ours)
    mib = total / (1 << 20)
    print(f"input: {mib:.0f} MiB in {len(files)} files; kit file {kit.stat().st_size / (1 << 20):.0f} MiB; "
          f"best of {reps}")
    print(f"build   ours {bo.seconds:6.2f} s ({mib / bo.seconds:5.0f} MiB/s)   baseline tar|zstd -3 -T2|openssl "
          f"{bb.seconds:6.2f} s   ratio {bo.seconds / bb.seconds:.2f}  (goal <= 1.3)   "
          f"peak RSS {bo.max_rss_mib:.0f} MiB")
    print(f"verify  ours {vo.seconds:6.2f} s ({mib / vo.seconds:5.0f} MiB/s)   baseline zstd -dc|openssl       "
          f"{vb.seconds:6.2f} s   ratio {vo.seconds / vb.seconds:.2f}  (goal <= 1.3)   "
          f"peak RSS {vo.max_rss_mib:.0f} MiB")


if __name__ == "__main__":
    main()
