"""Every file a command reads is bounded and regular (issue 17, principle 1).

Each command that takes a file from the user is given, in turn, a FIFO with no writer, a
link to ``/dev/zero`` and a sparse file of 8 GiB (nothing on disk): the FIFO and the
device are refused by name (``special-file``, exit 3) without being read, the large file
as ``limit-exceeded`` (exit 3) before a byte is read — each within a few seconds. Before
``kit.inputfile``, the FIFO and ``/dev/zero`` hung every one of these commands and the
large file was read whole into memory.
"""

from __future__ import annotations

import os
import signal
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import pytest
from click.testing import CliRunner

from appliance.cli import cli as stella
from bundler.cli import cli as bundler
from kit import canonical
from kit.crypto import generate
from kit.crypto.keydir import write_key_dir
from kit.errors import InputTooLarge, KitIOError, SpecialFile
from kit.inputfile import LIMIT_VARIABLE, LIMITS, read_file
from tests.appliance.conftest import home, root, signer, trust_file  # noqa: F401  (fixtures)
from tests.kit.findings.conftest import cyclonedx, osv, write
from verifier.cli import cli as verify

HUGE = 8 << 30


class Hung(BaseException):
    """Not an OSError (as TimeoutError is): no ``except OSError`` in the code under test can swallow it."""


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Fail instead of hanging when a command blocks on a FIFO or reads /dev/zero forever."""
    def expired(_sig: int, _frame: FrameType | None) -> None:
        raise Hung(f"still reading after {seconds} s")
    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def hostile(path: Path, how: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if how == "fifo":
        os.mkfifo(path)
    elif how == "devzero":
        path.symlink_to("/dev/zero")
    else:
        with open(path, "wb") as fh:
            fh.truncate(HUGE)
    return path


EXPECTED = {"fifo": ("special-file", "FIFO"), "devzero": ("special-file", "character device"),
            "huge": ("limit-exceeded", "over the limit")}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Good inputs next to which one hostile file is named."""
    tmp = tmp_path_factory.mktemp("good")
    made = generate()
    key = tmp / "key.pub.json"
    key.write_bytes(canonical.dumps({**made.public_key.to_dict(), "keyid": made.keyid}))
    sbom = write(tmp / "sbom.cdx.json", cyclonedx(["pkg:pypi/demo@1.0"]))
    adv = write(tmp / "osv" / "a.json", osv("PYSEC-1", "demo", events=[{"introduced": "0"}, {"fixed": "2"}]))
    kit = tmp / "some.kit"
    kit.write_bytes(b"x")
    return {"key": key, "sbom": sbom, "osv": adv.parent, "kit": kit, "tmp": tmp}


# (name, program, argv given the hostile path and the good files)
Argv = Callable[[Path, dict[str, Path]], list[str]]
CASES: list[tuple[str, object, Argv, str]] = [
    ("verify kit --trust", verify, lambda h, f: ["kit", str(f["kit"]), "--trust", str(h)], "trust.json"),
    ("verify import-record RECORD", verify, lambda h, f: ["import-record", str(h), "--appliance-key", str(f["key"])],
     "record.json"),
    ("verify import-record --key", verify, lambda h, f: ["import-record", str(f["kit"]), "--appliance-key", str(h)],
     "key.pub.json"),
    ("verify evidence PACKET", verify, lambda h, f: ["evidence", str(h), "--appliance-key", str(f["key"])],
     "p.stella-evidence"),
    ("verify replay PACKET", verify, lambda h, f: ["replay", str(h)], "p.stella-evidence"),
    ("bundler build KIT_YAML", bundler, lambda h, f: ["build", str(h), "--key", str(f["tmp"])], "kit.yaml"),
    ("findings --sbom", stella, lambda h, f: ["findings", "--sbom", str(h), "--advisories", str(f["osv"])],
     "x.cdx.json"),
    ("findings --advisories", stella, lambda h, f: ["findings", "--sbom", str(f["sbom"]), "--advisories", str(h)],
     "osv.json"),
    ("findings --vex", stella, lambda h, f: ["findings", "--sbom", str(f["sbom"]), "--advisories", str(f["osv"]),
                                             "--vex", str(h)], "v.json"),
    ("init --trust", stella, lambda h, f: ["init", "--trust", str(h), "--home", str(f["tmp"] / "home")],
     "root.json"),
]


@pytest.mark.parametrize("how", ["fifo", "devzero", "huge"])
@pytest.mark.parametrize(("name", "program", "argv", "file"), CASES, ids=[c[0] for c in CASES])
def test_every_command_refuses_special_and_oversized_files(
        how: str, name: str, program: object, argv: Argv, file: str, files: dict[str, Path],
        tmp_path: Path) -> None:
    path = hostile(tmp_path / file, how)
    with deadline(20):
        result = CliRunner().invoke(program, argv(path, files))  # type: ignore[arg-type]
    kind, words = EXPECTED[how]
    assert result.exit_code == 3, (name, result.output, result.exception)
    assert f"{kind}:" in result.stderr and words in result.stderr and file in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_kit_yaml_inputs_are_bounded_too(tmp_path: Path) -> None:
    """A FIFO named as an advisory file in kit.yaml is refused by name, not read (one inside a
    named folder is not a document and is passed over)."""
    hostile(tmp_path / "osv" / "a.json", "fifo")
    (tmp_path / "kit.yaml").write_text(
        "kit: {name: k, channel: stable, sequence: 1, created: '2026-01-01T00:00:00Z',\n"
        "      expires: '2099-01-01T00:00:00Z'}\n"
        "advisories:\n  - path: osv/a.json\n", encoding="utf-8")
    keydir = tmp_path / "key"
    write_key_dir(keydir, generate())
    with deadline(20):
        result = CliRunner().invoke(bundler, ["build", str(tmp_path / "kit.yaml"), "--key", str(keydir),
                                              "--out", str(tmp_path / "k.kit")])
    assert result.exit_code == 3, (result.output, result.exception)
    assert "special-file:" in result.stderr and "a.json" in result.stderr and "FIFO" in result.stderr
    assert not (tmp_path / "k.kit").exists()


def test_the_limit_is_checked_on_what_is_read_not_only_on_the_size(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "root.json"
    path.write_bytes(b"{}" * 100)
    assert read_file(path, "trust root") == b"{}" * 100
    monkeypatch.setenv(LIMIT_VARIABLE, "150")
    with pytest.raises(InputTooLarge, match="over the limit of 150 bytes.*STELLA_MAX_INPUT_BYTES"):
        read_file(path, "trust root")
    # a size stat cannot see (procfs reports 0 bytes) is caught by the bounded read
    monkeypatch.setenv(LIMIT_VARIABLE, "16")
    with pytest.raises(InputTooLarge, match="more than the limit"):
        read_file(Path("/proc/self/status"), "trust root")


def test_missing_is_io_error_and_a_folder_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(KitIOError, match="no such file"):
        read_file(tmp_path / "nope.json", "key")
    with pytest.raises(SpecialFile, match="is a folder"):
        read_file(tmp_path, "key")
    assert set(LIMITS) >= {"trust root", "key", "kit.yaml", "SBOM", "advisory file", "VEX document",
                           "policy file", "evidence packet", "import record", "release document"}


def test_a_zip_member_that_inflates_past_the_limit_is_refused(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A .zip of advisories: each member is refused by its size, never inflated past the limit."""
    archive = tmp_path / "osv.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.json", b" " * (4 << 20))     # 4 MiB of spaces: a few KB compressed
    monkeypatch.setenv(LIMIT_VARIABLE, str(1 << 20))
    sbom = write(tmp_path / "s.cdx.json", cyclonedx(["pkg:pypi/demo@1.0"]))
    monkeypatch.setenv(LIMIT_VARIABLE, str(1 << 20))
    result = CliRunner().invoke(stella, ["findings", "--sbom", str(sbom), "--advisories", str(archive)])
    assert result.exit_code == 3 and "limit-exceeded:" in result.stderr and "osv.zip!a.json" in result.stderr


@pytest.mark.parametrize("how", ["fifo", "devzero"])
def test_a_kit_that_is_not_a_regular_file_is_refused_by_name(how: str, tmp_path: Path,
                                                             home: Path) -> None:  # noqa: F811
    """inspect hung on a FIFO; import, plan and verify read the kit through the same reader."""
    path = hostile(tmp_path / "x.stella-kit", how)
    words = EXPECTED[how][1]
    runs = [(bundler, ["inspect", str(path)]), (stella, ["import", str(path), "--home", str(home)]),
            (stella, ["plan", str(path), "--home", str(home)])]
    for program, argv in runs:
        with deadline(10):
            result = CliRunner().invoke(program, argv)  # type: ignore[arg-type]
        assert result.exit_code == 3, (argv, result.output, result.exception)
        assert "special-file:" in result.stderr and words in result.stderr, result.stderr
        if argv[0] == "import":   # the refusal's report is kept; the file is never opened to be copied
            assert "report kept in" in result.stderr and "not a regular file, so not copied" in result.stderr


@pytest.mark.parametrize("how", ["fifo", "devzero", "huge"])
def test_trust_update_refuses_a_special_or_oversized_root(how: str, tmp_path: Path,
                                                          home: Path) -> None:  # noqa: F811
    path = hostile(tmp_path / "new-root.json", how)
    kind, words = EXPECTED[how]
    with deadline(20):
        result = CliRunner().invoke(stella, ["trust", "update", str(path), "--home", str(home)])
    assert result.exit_code == 3, (result.output, result.exception)
    assert f"{kind}:" in result.stderr and words in result.stderr and "new-root.json" in result.stderr


def test_a_limit_set_by_the_format_does_not_point_at_the_variable(tmp_path: Path) -> None:
    """A caller's own bound (e.g. a workflow template's 256 KiB) is not what STELLA_MAX_INPUT_BYTES changes."""
    big = tmp_path / "t.yaml"
    big.write_bytes(b"x" * 100)
    with pytest.raises(InputTooLarge) as fixed:
        read_file(big, "kit.yaml", limit=10)
    assert "limit of the format" in str(fixed.value) and "STELLA_MAX_INPUT_BYTES" not in str(fixed.value)
    os.environ["STELLA_MAX_INPUT_BYTES"] = "10"
    try:
        with pytest.raises(InputTooLarge) as default:
            read_file(big, "kit.yaml")
    finally:
        del os.environ["STELLA_MAX_INPUT_BYTES"]
    assert "STELLA_MAX_INPUT_BYTES sets another" in str(default.value)
