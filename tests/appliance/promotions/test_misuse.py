"""Misuse found by a review pass: each is one clear line, a documented exit code, nothing stored."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from clisupport import handle_errors
from kit import exitcodes
from tests.appliance.helpers import snapshot
from tests.appliance.promotions.conftest import run


@pytest.mark.parametrize("args", [
    ["--start", "9999-12-31T23:59:59", "--duration", "1h"],          # date arithmetic would overflow
    ["--start", "2026-01-01T00:00:00", "--duration", "99999999999h"],  # so would this duration
])
def test_a_freeze_window_the_gate_cannot_evaluate_is_refused(site: Path, args: list[str]) -> None:
    before = snapshot(site)
    result = run(site, "env", "freeze", "dev", *args, "--tz", "UTC", "--reason", "x", user="root")
    assert result.exit_code == exitcodes.MALFORMED, result.output
    assert "Traceback" not in result.output and snapshot(site) == before
    assert run(site, "env", "list").exit_code == 0


@pytest.mark.parametrize("args", [
    ["env", "create", "x", "--order", "99999999999999999999999"],
    ["env", "create", "x", "--order", "-1"],
    ["env", "create", "x", "--order", "9", "--requires-approvals", "-3"],
    ["target", "settings", "dev", "--health-timeout", "99999999999999999999999"],
])
def test_out_of_range_numbers_are_usage_errors(site: Path, args: list[str]) -> None:
    result = run(site, *args, user="root")
    assert result.exit_code == exitcodes.USAGE and "Traceback" not in result.output


def test_unknown_environment_in_target_commands(site: Path) -> None:
    assert run(site, "target", "settings", "nowhere", user="root").exit_code == exitcodes.USAGE
    assert run(site, "target", "list", "--env", "nowhere").exit_code == exitcodes.USAGE


def test_drift_with_no_targets_says_so(site: Path) -> None:
    result = run(site, "drift")
    assert result.exit_code == 0 and "no targets" in result.output


def test_an_unexpected_error_is_one_line_and_exit_4(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        with handle_errors("stella test"):
            raise RuntimeError("boom\nsecond line")
    assert exit_.value.code == exitcodes.IO_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal: RuntimeError: boom second line" in err
    with pytest.raises(click.UsageError):                # click's own errors pass through
        with handle_errors("stella test"):
            raise click.UsageError("bad")
