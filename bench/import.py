"""Kit import throughput against ``zstd -dc KIT | openssl dgst -sha256`` over the same file.

Builds a kit of about 1 GiB (half random, half compressible text, 4 MiB attachments)
with ``kit.format.write_kit``, imports it into a fresh appliance home (a subprocess,
so its peak RSS is its own) and, in the same run, times the shell baseline. Prints the
ratio (goal <= 1.5 including fsyncs and the DB commit) and peak RSS (goal < 200 MB).
Then times a re-import (idempotent: should cost about a manifest read) and a delta
import adding 1 % new blobs.

    .venv/bin/python bench/import.py [--size-mib 1024] [--reps 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _util import BIN, Run, best, timed, warm  # noqa: E402

from kit.crypto import generate  # noqa: E402
from kit.format.writer import EntrySource, WriteResult, write_kit  # noqa: E402
from kit.timeutil import now  # noqa: E402
from kit.trust import build_root  # noqa: E402

FILE_MIB = 4
WORDS = ("release kit advisory digest manifest image layer policy gate verify stream sign container registry "
         "promote approve deploy rollback sticker drift evidence audit trust channel sequence").split()


def make_inputs(folder: Path, size_mib: int, seed: int = 11) -> list[Path]:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    block = "\n".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 14))) + f" {rng.random():.6f}"
                      for _ in range(80000)).encode()[:FILE_MIB << 20]
    files = []
    for i in range(size_mib // FILE_MIB // 2):
        rnd, txt = folder / f"random-{i:03d}.bin", folder / f"text-{i:03d}.txt"
        rnd.write_bytes(os.urandom(FILE_MIB << 20))
        txt.write_bytes(f"file {i}\n".encode() + block[: (FILE_MIB << 20) - 16])
        files += [rnd, txt]
    return files


def build(out: Path, files: list[Path], signer: object, sequence: int, **kw: object) -> WriteResult:
    created = now() - dt.timedelta(hours=1)
    sources = [EntrySource(f"attachments/{f.name}", "application/octet-stream", file=f) for f in files]
    return write_kit(out, name="bench", channel="stable", sequence=sequence, created=created,
                     expires=created + dt.timedelta(days=30), sources=sources, signers=[signer],  # type: ignore[list-item]
                     generator={"name": "bench", "version": "1"}, **kw)  # type: ignore[arg-type]


def fresh_home(work: Path, trust: Path) -> Path:
    home = work / "home"
    shutil.rmtree(home, ignore_errors=True)
    subprocess.run([str(BIN / "stella"), "init", "--home", str(home), "--trust", str(trust),
                    "--registry-addr", "127.0.0.1:9"], check=True, capture_output=True)
    # let the deletion of the previous home (ext4 discard, writeback) settle, so the import
    # is not charged for it
    os.sync()
    time.sleep(2)
    return home


def stella_import(home: Path, kit: Path) -> Run:
    return timed_own_rss([str(BIN / "stella"), "import", str(kit), "--home", str(home), "--no-seed"])


def timed_own_rss(cmd: list[str]) -> Run:
    """Like ``_util.timed``, but the peak RSS is the command's own.

    Linux carries a process's peak RSS across fork and exec, so a child of this (large)
    benchmark process reports at least the benchmark's own peak. ``/usr/bin/time`` is a
    small process that forks the command itself, so its ``%M`` is the command's figure.
    """
    gnu_time = shutil.which("time", path="/usr/bin:/bin")
    if gnu_time is None:
        return timed(cmd)
    with tempfile.NamedTemporaryFile("r") as out:
        run = timed([gnu_time, "-q", "-f", "%M", "-o", out.name, *cmd])
        return Run(run.seconds, int(out.read().split()[-1]) / 1024)


def run(work: Path, size_mib: int, reps: int) -> None:
    signer = generate("default")
    trust = work / "trust.json"
    env = build_root(version=1, expires=now() + dt.timedelta(days=365), keys=[signer.public_key], root_threshold=1,
                     channels={"stable": ([signer.public_key], 1)}, signers=[signer])
    trust.write_bytes(env.to_bytes())
    files = make_inputs(work / "data", size_mib)
    full = build(work / "v1.stella-kit", files, signer, 1)
    extra = make_inputs(work / "extra", 2 * FILE_MIB * max(1, len(files) // 100))[: max(1, len(files) // 100)]
    delta = build(work / "v2.stella-kit", extra, signer, 2, kind="delta",
                  base={"kitId": full.manifest.kit_id, "sequence": 1}, inherited=list(full.manifest.entries))
    warm([full.path, delta.path])
    base_runs, import_runs, reimport_runs, delta_runs = [], [], [], []
    for _ in range(reps):
        base_runs.append(timed(f"zstd -q -dc {full.path} | openssl dgst -sha256", shell=True))
        home = fresh_home(work, trust)
        import_runs.append(stella_import(home, full.path))
        reimport_runs.append(stella_import(home, full.path))
        delta_runs.append(stella_import(home, delta.path))
    b, i, r, d = best(base_runs), best(import_runs), best(reimport_runs), best(delta_runs)
    mib = full.manifest.total_size / (1 << 20)
    print(f"kit: {mib:.0f} MiB in {len(files)} entries; file {full.file_size / (1 << 20):.0f} MiB; best of {reps}")
    print(f"import    {i.seconds:6.2f} s ({mib / i.seconds:4.0f} MiB/s)  baseline zstd -dc|openssl {b.seconds:5.2f} s  "
          f"ratio {i.seconds / b.seconds:.2f} (goal <= 1.5)  peak RSS {i.max_rss_mib:.0f} MiB (goal < 200)")
    print(f"re-import {r.seconds:6.2f} s (already imported; manifest read only)  peak RSS {r.max_rss_mib:.0f} MiB")
    print(f"delta     {d.seconds:6.2f} s ({len(extra)} new entries = {delta.manifest.total_size / (1 << 20):.0f} MiB, "
          f"{len(full.manifest.entries)} inherited)  peak RSS {d.max_rss_mib:.0f} MiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = ap.parse_args()
    for tool in ("zstd", "openssl"):
        if shutil.which(tool) is None:
            raise SystemExit(f"missing {tool} (run ./build.sh setup)")
    work = args.keep or Path(tempfile.mkdtemp(prefix="stella-bench-import-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        run(work, args.size_mib, args.reps)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
