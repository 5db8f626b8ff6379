"""How the import writes: every staged blob is durable before the commit, and a disk error
fails the import before it (nothing changed); ``stella import`` starts small."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from appliance.importing import commit as committer
from kit.crypto import Signer
from tests.appliance.helpers import ROOT, files_v1, kit, snapshot, stella


def _fd_path(fd: int) -> str:
    return os.readlink(f"/proc/self/fd/{fd}")


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name descriptors")
def test_every_staged_blob_is_synced_before_the_commit(tmp_path: Path, home: Path, signer: Signer,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    k = kit(tmp_path / "v1.stella-kit", files_v1(), [signer])
    synced: list[str] = []
    at_commit: list[set[str]] = []
    real_sync, real_commit = os.fdatasync, committer.commit

    def fdatasync(fd: int) -> None:
        real_sync(fd)
        synced.append(Path(_fd_path(fd)).name)

    def commit(*args: Any, **kw: Any) -> Any:
        at_commit.append(set(synced))
        return real_commit(*args, **kw)

    monkeypatch.setattr(os, "fdatasync", fdatasync)
    monkeypatch.setattr(committer, "commit", commit)
    result = stella("import", str(k.path), home=home)
    assert result.exit_code == 0, result.output
    distinct = {e.sha256 for e in k.manifest.entries}
    assert at_commit == [distinct]                     # all of them, before the transaction
    assert sorted(synced) == sorted(distinct)          # each once; nothing else


@pytest.mark.parametrize("failing", ["write", "fdatasync"])
def test_a_disk_error_fails_the_import_and_changes_nothing(tmp_path: Path, home: Path, signer: Signer,
                                                          monkeypatch: pytest.MonkeyPatch, failing: str) -> None:
    k = kit(tmp_path / "v1.stella-kit", files_v1(), [signer])
    before = snapshot(home)
    real = getattr(os, failing)
    calls = []

    def broken(fd: int, *args: Any) -> Any:
        if _fd_path(fd).startswith(str(home / "staging")):
            calls.append(fd)
            if len(calls) == 2:
                code = errno.ENOSPC if failing == "write" else errno.EIO
                raise OSError(code, os.strerror(code))
        return real(fd, *args)

    monkeypatch.setattr(os, failing, broken)
    result = stella("import", str(k.path), home=home)
    assert result.exit_code == 4, result.output                     # I/O error
    assert str(home / "staging") in result.output
    monkeypatch.setattr(os, failing, real)
    assert snapshot(home) == before
    assert not any((home / "staging").iterdir())
    assert stella("import", str(k.path), home=home).exit_code == 0     # and the next import works


def test_import_command_does_not_load_unrelated_modules() -> None:
    code = ("import sys; from appliance.cli import cli; cli.get_command(None, 'import'); "
            "print(sorted(m for m in ('httpx', 'docker', 'regopy', 'kit.findings') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_help_lists_every_command() -> None:
    from appliance.commands import COMMANDS, LAZY

    result = stella("--help")
    assert result.exit_code == 0
    for name in LAZY:
        assert f"  {name} " in result.output
    assert sorted(c.name for c in COMMANDS) == sorted(LAZY)     # type: ignore[type-var]


def test_a_kit_swapped_during_the_import_is_refused(tmp_path: Path, home: Path, signer: Signer,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Freshness is checked on the manifest read first; the streamed one must be the same."""
    import appliance.importing.pipeline as importer

    assert stella("import", str(kit(tmp_path / "v2.stella-kit", files_v1(), [signer], sequence=2).path),
                  home=home).exit_code == 0
    before = snapshot(home)
    fresh = kit(tmp_path / "v3.stella-kit", files_v1(), [signer], sequence=3)
    stale = kit(tmp_path / "v1.stella-kit", {**files_v1(), "attachments/x.txt": b"x"}, [signer], sequence=1)
    real = importer.KitReader.verify
    swapped: list[bool] = []

    def check_manifest_then_swap(self: Any, **kw: Any) -> Any:
        seen = real(self, **kw)
        if kw.get("manifest_only") and not swapped:      # the first, manifest-only read
            swapped.append(True)
            self.path.write_bytes(stale.path.read_bytes())    # validly signed, but older than active
        return seen

    monkeypatch.setattr(importer.KitReader, "verify", check_manifest_then_swap)
    result = stella("import", str(fresh.path), home=home)
    assert result.exit_code == 1 and "changed while it was being imported" in result.output, result.output
    assert snapshot(home) == before


def test_a_stale_kit_with_a_bad_signature_is_quarantined_for_its_signature(tmp_path: Path, home: Path,
                                                                          signer: Signer) -> None:
    from kit.crypto import generate

    assert stella("import", str(kit(tmp_path / "v2.stella-kit", files_v1(), [signer], sequence=2).path),
                  home=home).exit_code == 0
    forged = kit(tmp_path / "v1.stella-kit", files_v1(), [generate("default")], sequence=1)
    result = stella("import", str(forged.path), home=home)
    assert result.exit_code == 1 and "quarantined" in result.output, result.output


@pytest.mark.parametrize("direct", [True, False])
def test_staged_files_hold_exactly_the_bytes_at_every_size(tmp_path: Path, direct: bool) -> None:
    """Aligned direct writes, the bounce buffer's edges and the buffered tail, chunked oddly."""
    import hashlib
    import random

    from appliance.importing import staging
    from appliance.store.blobs import BlobStore
    from kit.format.manifest import Entry

    rng = random.Random(7)
    sizes = [0, 1, 4095, 4096, 4097, (4 << 20) - 1, 4 << 20, (4 << 20) + 1, (9 << 20) + 123]
    (tmp_path / "store").mkdir()
    sink = staging.create(tmp_path / "stage", BlobStore(tmp_path / "store"))
    if not direct:
        sink.writer._direct = False
    expected = {}
    for size in sizes:
        data = rng.randbytes(size)
        digest = hashlib.sha256(data).hexdigest()
        writer = sink.open(Entry(path=f"a/{size}", sha256=digest, size=size, media_type="application/octet-stream"))
        assert writer is not None
        view, pos = memoryview(data), 0
        while pos < size:
            step = rng.choice([1, 511, 4096, 65536, 1 << 20, 3 << 20])
            writer.write(view[pos:pos + step])
            pos += step
        writer.close(True)
        expected[digest] = data
    sink.finish()
    assert sink.staged == {h: len(d) for h, d in expected.items()}
    for digest, data in expected.items():
        assert (tmp_path / "stage" / "blobs" / digest).read_bytes() == data


def test_a_file_system_that_refuses_direct_writes_gets_buffered_ones(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import fcntl
    import hashlib

    from appliance.importing import staging
    from appliance.store.blobs import BlobStore
    from kit.format.manifest import Entry

    real_write = os.write

    def write(fd: int, data: Any) -> int:
        if fcntl.fcntl(fd, fcntl.F_GETFL) & getattr(os, "O_DIRECT", 0):
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    (tmp_path / "store").mkdir()
    sink = staging.create(tmp_path / "stage", BlobStore(tmp_path / "store"))
    blobs = {}
    for size in (5 << 20, 9000):
        data = os.urandom(size)
        digest = hashlib.sha256(data).hexdigest()
        writer = sink.open(Entry(path=f"a/{size}", sha256=digest, size=size, media_type="x"))
        assert writer is not None
        writer.write(memoryview(data))
        writer.close(True)
        blobs[digest] = data
    sink.finish()
    for digest, data in blobs.items():
        assert (tmp_path / "stage" / "blobs" / digest).read_bytes() == data
