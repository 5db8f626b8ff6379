"""The kit commands as a user runs them: keygen, trust, build, inspect, verify, and exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from bundler.cli import cli as bundler
from verifier.cli import cli as verifier

ROOT = Path(__file__).resolve().parents[2]


def run(cli, *args: str, code: int = 0):  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    stderr = result.stderr if hasattr(result, "stderr") else ""
    assert result.exit_code == code, (result.exit_code, result.output, stderr)
    return result


@pytest.fixture()
def work(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "examples" / "site", tmp_path / "site")
    run(bundler, "keygen", "--out", tmp_path / "keys/a")
    run(bundler, "keygen", "--out", tmp_path / "keys/b")
    run(bundler, "trust", "init", "--key", tmp_path / "keys/a", "--key", tmp_path / "keys/b", "--threshold", "2",
        "--channel", "stable", "--expires", "2099-12-31", "--out", tmp_path / "trust.json")
    run(bundler, "build", tmp_path / "site/kit.yaml", "--key", tmp_path / "keys/a", "--key", tmp_path / "keys/b",
        "--out", tmp_path / "site.stella-kit")
    return tmp_path


def test_verify_ok_prints_one_line(work: Path) -> None:
    out = run(verifier, "kit", work / "site.stella-kit", "--trust", work / "trust.json").output
    assert out.startswith("OK ") and out.count("\n") == 1 and "7 entries" in out and "2 of 2 signatures" in out


def test_verify_json_report_lists_every_check(work: Path) -> None:
    report = json.loads(run(verifier, "kit", work / "site.stella-kit", "--trust", work / "trust.json",
                            "--json").output)
    assert report["verified"] is True and report["error"] is None
    assert [c["check"] for c in report["checks"]] == ["trust-root", "container", "signatures", "manifest",
                                                      "expiry", "entries", "end"]
    assert all(c["ok"] for c in report["checks"])
    assert report["kitId"].startswith("sha256:") and report["entries"] == 7


def test_exit_1_when_verification_fails(work: Path) -> None:
    kit = work / "site.stella-kit"
    run(bundler, "keygen", "--out", work / "keys/x")
    run(bundler, "trust", "init", "--key", work / "keys/x", "--threshold", "1", "--expires", "2099-01-01",
        "--out", work / "other.json")
    result = run(verifier, "kit", kit, "--trust", work / "other.json", "--json", code=1)
    report = json.loads(result.output)
    assert report["verified"] is False and report["error"]["kind"] == "untrusted-key"
    assert report["checks"][-1]["ok"] is False


def test_exit_1_for_an_expired_kit_and_0_at_an_earlier_time(work: Path) -> None:
    kit, trust = work / "site.stella-kit", work / "trust.json"
    run(verifier, "kit", kit, "--trust", trust, "--at", "2028-01-01", code=1)
    run(verifier, "kit", kit, "--trust", trust, "--at", "2027-01-01T12:00:00Z")


def test_exit_2_for_usage_errors(work: Path) -> None:
    run(verifier, "kit", work / "site.stella-kit", code=2)                       # no --trust
    run(verifier, "kit", work / "site.stella-kit", "--trust", work / "trust.json", "--at", "someday", code=2)
    run(verifier, "frobnicate", code=2)


def test_exit_3_for_a_file_that_is_not_a_kit(work: Path) -> None:
    (work / "notes.stella-kit").write_text("hello")
    run(verifier, "kit", work / "notes.stella-kit", "--trust", work / "trust.json", code=3)
    run(verifier, "kit", work / "site.stella-kit", "--trust", work / "site/kit.yaml", code=3)   # not a root


def test_exit_4_for_a_missing_file(work: Path) -> None:
    run(verifier, "kit", work / "nope.stella-kit", "--trust", work / "trust.json", code=4)


def test_inspect_shows_entries_and_signatures(work: Path) -> None:
    out = run(bundler, "inspect", work / "site.stella-kit").output
    assert "signatures not verified" in out and "policy/gate.rego" in out and out.count("signature  ") == 2
    doc = json.loads(run(bundler, "inspect", work / "site.stella-kit", "--json").output)
    assert len(doc["manifest"]["entries"]) == 7 and len(doc["signatures"]) == 2 and doc["verified"] is False


def test_rotation_from_the_command_line(work: Path) -> None:
    run(bundler, "keygen", "--out", work / "keys/c", "--profile", "fips")
    run(bundler, "trust", "rotate", "--from", work / "trust.json", "--sign-with", work / "keys/a",
        "--sign-with", work / "keys/b", "--key", work / "keys/c", "--threshold", "1", "--expires", "2099-06-01",
        "--out", work / "trust-v2.json")
    run(bundler, "build", work / "site/kit.yaml", "--key", work / "keys/c", "--out", work / "v2.stella-kit")
    # the new kit verifies only through the chain; the old root alone does not trust key c
    run(verifier, "kit", work / "v2.stella-kit", "--trust", work / "trust.json", "--trust", work / "trust-v2.json")
    run(verifier, "kit", work / "v2.stella-kit", "--trust", work / "trust.json", code=1)
    # a rotation not signed by the old threshold is refused, and nothing is written
    result = run(bundler, "trust", "rotate", "--from", work / "trust.json", "--sign-with", work / "keys/a",
                 "--key", work / "keys/c", "--threshold", "1", "--expires", "2099-06-01",
                 "--out", work / "bad.json", code=1)
    assert "1 of 2" in result.output and not (work / "bad.json").exists()


def test_keygen_refuses_to_overwrite(work: Path) -> None:
    result = run(bundler, "keygen", "--out", work / "keys/a", code=5)
    assert "already holds a key" in result.output
    assert oct((work / "keys/a/key.pem").stat().st_mode & 0o777) == "0o600"


def test_build_refuses_a_bad_spec_with_exit_3(work: Path) -> None:
    spec = work / "site/kit.yaml"
    spec.write_text(spec.read_text() + "surprise: true\n")
    result = run(bundler, "build", spec, "--key", work / "keys/a", "--out", work / "x.stella-kit", code=3)
    assert "unknown key 'surprise'" in result.output and not (work / "x.stella-kit").exists()


def test_console_scripts_are_installed(work: Path) -> None:
    for script in ("stella", "stella-bundler", "stella-verify"):
        exe = shutil.which(script) or str(ROOT / ".venv" / "bin" / script)
        out = subprocess.run([exe, "--help"], capture_output=True, text=True, check=True).stdout
        assert "Usage:" in out
    exe = shutil.which("stella-verify") or str(ROOT / ".venv" / "bin" / "stella-verify")
    proc = subprocess.run([exe, "kit", str(work / "site.stella-kit"), "--trust", str(work / "trust.json")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
