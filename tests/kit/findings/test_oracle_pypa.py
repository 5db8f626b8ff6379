"""THE oracle test on the real PyPA advisory snapshot (../shared/data, see its README)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.findings.loader import load_advisories

from .oracle import run_oracle


def test_matcher_agrees_with_versions_lists(pypa_zip: Path, record_property,  # type: ignore[no-untyped-def]
                                            request: pytest.FixtureRequest) -> None:
    loaded = load_advisories([pypa_zip])
    assert loaded.problems == ()
    assert len(loaded.records) == 2661
    result = run_oracle(loaded.records)
    # Printed by the terminal summary hook in conftest.py, so it shows in every run.
    listed = sorted(result.inconsistent)
    request.config.findings_oracle = [  # type: ignore[attr-defined]
        result.figure(),
        f"inconsistent records (reasons in docs/findings.md): {', '.join(listed)}"]
    record_property("oracle", result.figure())
    print(result.figure())
    assert result.records > 2500
    assert result.consistent_pairs > 100_000
    assert result.disagreements == [], result.disagreements[:20]
    assert result.consistent_agree == result.consistent_pairs
