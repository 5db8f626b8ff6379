"""A build stopped by SIGTERM or Ctrl-C leaves nothing behind, and a later build cleans up
after one that was killed outright (issue 17, principle 11)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bundler.build import build_kit
from bundler.spec import load_spec
from kit.crypto import generate, write_key_dir

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "site"
BUNDLER = Path(sys.executable).parent / "stella-bundler"


@pytest.fixture()
def site(tmp_path: Path) -> Path:
    dest = tmp_path / "site"
    shutil.copytree(EXAMPLE, dest)
    return dest


def _big_build(site: Path, tmp_path: Path, sig: signal.Signals) -> tuple[subprocess.CompletedProcess[str], Path]:
    with open(site / "files" / "big.bin", "wb") as fh:       # sparse: costs no disk, takes seconds to pack
        fh.truncate(1 << 30)
    text = (site / "kit.yaml").read_text()
    (site / "kit.yaml").write_text(text.replace("[files/notes.txt]", "[files/notes.txt, files/big.bin]"))
    keys = tmp_path / "keys"
    write_key_dir(keys, generate())
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    proc = subprocess.Popen([str(BUNDLER), "build", str(site / "kit.yaml"), "--key", str(keys),
                             "--out", str(out_dir / "site.stella-kit"), "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not list(out_dir.glob(".*.partial")):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the build never started writing"
        time.sleep(0.02)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), out_dir


@pytest.mark.parametrize("sig,code,word", [(signal.SIGTERM, -signal.SIGTERM, "terminated"),
                                           (signal.SIGINT, 130, "interrupted")],
                         ids=["sigterm", "ctrl-c"])
def test_a_stopped_build_leaves_no_partial_file(site: Path, tmp_path: Path, sig: signal.Signals, code: int,
                                                 word: str) -> None:
    done, out_dir = _big_build(site, tmp_path, sig)
    assert done.returncode == code, done.stderr
    assert done.stderr.strip() == f"stella-bundler: {word}"
    assert sorted(p.name for p in out_dir.iterdir()) == []      # no kit, no hidden .site.stella-kit.PID.partial


def test_a_later_build_removes_partial_files_of_dead_builds(site: Path, tmp_path: Path) -> None:
    out = tmp_path / "site.stella-kit"
    stale = tmp_path / ".site.stella-kit.4194303.partial"    # above pid_max's default: no such process
    stale.write_bytes(b"half a kit")
    live = tmp_path / f".site.stella-kit.{os.getppid()}.partial"   # a process that is alive: kept
    live.write_bytes(b"another build in progress")
    other = tmp_path / ".other.stella-kit.4194303.partial"   # another kit's: not ours to judge
    other.write_bytes(b"x")
    build_kit(load_spec(site / "kit.yaml"), [generate()], out)
    assert out.exists() and not stale.exists()
    assert live.exists() and other.exists()


def test_a_missing_kit_yaml_is_an_io_error(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    write_key_dir(keys, generate())
    done = subprocess.run([str(BUNDLER), "build", str(tmp_path / "nope.yaml"), "--key", str(keys)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 4
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("stella-bundler: error: io-error: ")
    assert str(tmp_path / "nope.yaml") in done.stderr
