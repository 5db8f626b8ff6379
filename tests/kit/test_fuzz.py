"""Property test: random mutations of valid kits are never accepted and never crash.

Mutations hit both the uncompressed tar stream (then recompressed) and the compressed
file itself. A compressed-byte change that decompresses to exactly the original stream
(e.g. a different but equivalent zstd window setting) carries the same signed content,
so it may verify; anything else must be refused with a KitError, not a traceback.
"""

from __future__ import annotations

import contextlib
import io
import resource
import tempfile
from pathlib import Path

import pytest
import zstandard
from hypothesis import HealthCheck, given, settings, strategies as st

from kit.crypto import generate
from kit.errors import KitError
from kit.format import KitLimits, KitReader
from tests.kit.conftest import make_root
from tests.kit.craft import AT, raw_kit

_KEY = generate()
_ROOT = make_root([_KEY], 1)
_KIT = raw_kit({"a/one.json": b'{"x":1}', "b/two.bin": bytes(range(256)) * 7, "c/" + "long/" * 25 + "x": b"z"},
               [_KEY])
TAR = _KIT.tar_bytes()
COMPRESSED = zstandard.ZstdCompressor(level=3).compress(TAR)
LIMITS = KitLimits(max_manifest_bytes=1 << 20, max_total_size=64 << 20, max_entry_size=16 << 20)
_DIR = Path(tempfile.mkdtemp(prefix="stella-fuzz-"))

mutation = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**9), st.integers(1, 255)),
    st.tuples(st.just("insert"), st.integers(0, 10**9), st.binary(min_size=1, max_size=600)),
    st.tuples(st.just("delete"), st.integers(0, 10**9), st.integers(1, 1500)),
    st.tuples(st.just("truncate"), st.integers(0, 10**9), st.just(0)),
    st.tuples(st.just("append"), st.just(0), st.binary(min_size=1, max_size=2000)),
    st.tuples(st.just("dup-block"), st.integers(0, 10**9), st.just(0)),
    st.tuples(st.just("swap-blocks"), st.integers(0, 10**9), st.integers(0, 10**9)),
)


def mutate(data: bytes, op: tuple[str, int, object]) -> bytes:
    kind, pos, arg = op
    if not data:
        return bytes(arg) if isinstance(arg, bytes) else b"\0"
    pos %= len(data)
    if kind == "flip":
        return data[:pos] + bytes([data[pos] ^ int(arg)]) + data[pos + 1:]  # type: ignore[arg-type]
    if kind == "insert":
        return data[:pos] + bytes(arg) + data[pos:]  # type: ignore[arg-type]
    if kind == "delete":
        return data[:pos] + data[pos + int(arg):]  # type: ignore[arg-type]
    if kind == "truncate":
        return data[:pos]
    if kind == "append":
        return data + bytes(arg)  # type: ignore[arg-type]
    blocks = len(data) // 512
    i = pos % max(1, blocks)
    if kind == "dup-block":
        return data[:i * 512] + data[i * 512:(i + 1) * 512] * 2 + data[(i + 1) * 512:]
    j = int(arg) % max(1, blocks)  # type: ignore[arg-type]
    a, b = sorted((i, j))
    if a == b:
        return data[:-1]
    ba, bb = data[a * 512:(a + 1) * 512], data[b * 512:(b + 1) * 512]
    return data[:a * 512] + bb + data[(a + 1) * 512:b * 512] + ba + data[(b + 1) * 512:]


def check(path: Path, content_unchanged: bool) -> None:
    result = KitReader(path, limits=LIMITS).verify(trust=_ROOT, at=AT)
    if result.ok:
        assert content_unchanged, "a mutated kit was accepted"
    else:
        assert isinstance(result.error, KitError)
        assert result.error.one_line()


def decompresses_to_original(data: bytes) -> bool:
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data), read_across_frames=True)
        return reader.read(len(TAR) + 1) == TAR
    except zstandard.ZstdError:
        return False


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutation, min_size=1, max_size=3))
def test_mutated_tar_stream_is_refused(ops: list[tuple[str, int, object]]) -> None:
    data = TAR
    for op in ops:
        data = mutate(data, op)
    path = _DIR / "tar.stella-kit"
    path.write_bytes(zstandard.ZstdCompressor(level=3).compress(data))
    check(path, data == TAR)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutation, min_size=1, max_size=3))
def test_mutated_compressed_file_is_refused(ops: list[tuple[str, int, object]]) -> None:
    data = COMPRESSED
    for op in ops:
        data = mutate(data, op)
    path = _DIR / "zst.stella-kit"
    path.write_bytes(data)
    check(path, data == COMPRESSED or decompresses_to_original(data))


@pytest.fixture(scope="module", autouse=True)
def _peak_from_here() -> None:
    """The process's peak RSS counts from this module on: a pytest worker ran other modules first
    (Linux resets VmHWM when 5 is written to clear_refs)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def test_memory_stayed_bounded() -> None:
    # Runs after the property tests in this module (the suite runs a module on one worker,
    # in file order: build.sh's --dist loadfile): the process stayed small while they ran.
    assert _peak_kib() < 512 * 1024   # KiB
