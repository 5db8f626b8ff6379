"""A realistic next day (1 % of advisories, one rebuilt image, VEX edited): the delta is at most 5 % of the full kit."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from appliance.cli import cli as stella
from bundler.cli import cli as bundler
from kit.format import inspect_kit
from tests.bundler.nextday import Scale, push_images, write_site

pytestmark = pytest.mark.services


def run(cli: object, *args: object) -> str:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)  # type: ignore[arg-type]
    assert result.exit_code == 0, result.output
    return result.output


def test_next_day_delta_is_at_most_five_percent_of_the_full_kit(registry: str, tmp_path: Path) -> None:
    scale, site = Scale(), tmp_path / "site"
    run(bundler, "keygen", "--out", tmp_path / "key")
    run(bundler, "trust", "init", "--key", tmp_path / "key", "--threshold", "1", "--expires", "2099-12-31",
        "--out", tmp_path / "trust.json")
    common = ("--key", tmp_path / "key", "--cache-dir", tmp_path / "cache", "--no-progress")
    spec = write_site(site, 1, push_images(registry, tmp_path, 1, scale), registry, scale)
    run(bundler, "build", spec, "--out", tmp_path / "day1.kit", *common)
    spec = write_site(site, 2, push_images(registry, tmp_path, 2, scale), registry, scale)
    run(bundler, "build", spec, "--out", tmp_path / "day2.kit", *common)
    run(bundler, "build", spec, "--out", tmp_path / "day2.delta", "--base", tmp_path / "day1.kit",
        "--trust", tmp_path / "trust.json", *common)
    full, delta = (tmp_path / "day2.kit").stat().st_size, (tmp_path / "day2.delta").stat().st_size
    print(f"\nnext-day delta: {delta} bytes, {delta / full:.2%} of the full kit ({full} bytes)")
    assert delta <= 0.05 * full
    m = inspect_kit(tmp_path / "day2.delta").manifest
    assert m is not None and m.kind == "delta"
    carried = {e.path for e in m.entries}
    layers = {e.path for e in (*m.entries, *m.inherited)
              if e.path.startswith("blobs/") and e.size > scale.app_bytes // 2}
    assert len(layers) == 4 and not layers & carried   # the shared base and unchanged app layers: not carried again
    blobs = [e for e in m.entries if e.path.startswith("blobs/")]
    assert len(blobs) == 3 and sum(e.size for e in blobs) < scale.patch_bytes + 4096   # new top layer, config, manifest
    assert {"advisories/records.ndjson", "vex/site.openvex.json", "releases/app0/2.0.json"} <= carried
    diff = run(bundler, "diff", tmp_path / "day1.kit", tmp_path / "day2.delta")
    assert f"advisories: 0 added, {scale.records // 100} changed, 0 withdrawn" in diff
    assert "~ app0@1.0 -> app0@2.0" in diff and "vex: 0 added, 0 removed, 1 changed statements" in diff
    home = tmp_path / "home"
    run(stella, "init", "--trust", tmp_path / "trust.json", "--registry-addr", "127.0.0.1:9", "--home", home)
    for kit in ("day1.kit", "day2.delta"):
        run(stella, "import", tmp_path / kit, "--no-seed", "--home", home)
