"""SBOMs and release documents are dated by their content (docs/adr/0009): a next-day kit
of unchanged images gives them byte-identical, and a delta inherits them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from appliance.cli import cli as stella
from bundler.cli import cli as bundler
from bundler.commands.sbom import sbom
from bundler.contenttime import image_time, newest
from bundler.oci.layout import OCILayout
from kit.format import Entry, KitReader, Manifest, inspect_kit
from tests.bundler.nextday import Scale, push_images, write_site
from tests.bundler.test_delta import dump
from tests.images import Layer, make_image, push

KIT_CREATED = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
SMALL = Scale(records=50, base_bytes=64 << 10, app_bytes=16 << 10, patch_bytes=4 << 10)


@pytest.mark.parametrize(("created", "expected"), [
    ("2026-10-31T14:30:00.123456789+02:00", "2026-10-31T12:30:00+00:00"),   # Go's nanoseconds and offset
    ("2026-10-31T12:30:00Z", "2026-10-31T12:30:00+00:00"),
    ("1970-01-01T00:00:00Z", "1970-01-01T00:00:00+00:00"),                 # reproducible builds' epoch 0
    ("2026-11-02T00:00:00Z", "2026-11-02T00:00:00+00:00"),                 # the kit's own second
    (None, "2026-11-02T00:00:00+00:00"),                                   # no created: the kit's
    ("", "2026-11-02T00:00:00+00:00"),
    ("yesterday", "2026-11-02T00:00:00+00:00"),
    ("0001-01-01T00:00:00Z", "2026-11-02T00:00:00+00:00"),                 # Go's zero time: before 1970
    ("1969-12-31T23:59:59Z", "2026-11-02T00:00:00+00:00"),
    ("0001-01-01T00:00:00+01:00", "2026-11-02T00:00:00+00:00"),            # out of range in UTC
    ("9999-12-31T23:59:59-01:00", "2026-11-02T00:00:00+00:00"),
    ("2026-11-02T00:00:01Z", "2026-11-02T00:00:00+00:00"),                 # after the kit: absurd
])
def test_image_time_is_the_config_created_or_the_kit_created(created: str | None, expected: str) -> None:
    assert image_time(created, KIT_CREATED).isoformat() == expected


def test_a_release_is_as_new_as_its_newest_image() -> None:
    times = [image_time("2026-10-01T00:00:00Z", KIT_CREATED), image_time("2026-10-05T00:00:00Z", KIT_CREATED)]
    assert newest(times, KIT_CREATED).isoformat() == "2026-10-05T00:00:00+00:00"
    assert newest([], KIT_CREATED) == KIT_CREATED
    assert newest([*times, image_time(None, KIT_CREATED)], KIT_CREATED) == KIT_CREATED


def run(cli: Any, *args: object) -> str:
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def manifest(kit: Path) -> Manifest:
    m = inspect_kit(kit).manifest
    assert m is not None
    return m


def contents(kit: Path) -> dict[str, bytes]:
    """Every carried entry's bytes (hash-checked by the reader)."""
    data: dict[str, bytes] = {}

    class Sink:
        def open(self, entry: Entry) -> Any:
            parts: list[bytes] = []

            class Writer:
                def write(self, chunk: memoryview) -> None:
                    parts.append(bytes(chunk))

                def close(self, verified: bool) -> None:
                    assert verified
                    data[entry.path] = b"".join(parts)
            return Writer()

    result = KitReader(kit).verify(trust=None, at=KIT_CREATED, sink=Sink())
    assert result.ok, result.error and result.error.one_line()
    return data


def content_entries(m: Manifest, *, carried: bool = True) -> dict[str, str]:
    """Path → sha256 of the SBOMs and release documents of *m* (carried, or inherited)."""
    entries = m.entries if carried else m.inherited
    return {e.path: e.sha256 for e in entries if e.path.startswith(("sboms/", "releases/"))}


@pytest.fixture()
def days(registry: str, tmp_path: Path) -> Path:
    """Day 1's full kit; day 2 (sequence and created bumped, 1 % of the advisories changed) with
    the same images (``same.kit``, ``same.delta``) and with app0 rebuilt (``day2.kit``, ``day2.delta``)."""
    site = tmp_path / "site"
    run(bundler, "keygen", "--out", tmp_path / "key")
    run(bundler, "trust", "init", "--key", tmp_path / "key", "--threshold", "1", "--expires", "2099-12-31",
        "--out", tmp_path / "trust.json")
    common = ("--key", tmp_path / "key", "--cache-dir", tmp_path / "cache", "--no-progress")
    delta = ("--base", tmp_path / "day1.kit", "--trust", tmp_path / "trust.json")
    day1 = push_images(registry, tmp_path, 1, SMALL)
    run(bundler, "build", write_site(site, 1, day1, registry, SMALL), "--out", tmp_path / "day1.kit", *common)
    spec = write_site(site, 2, day1, registry, SMALL)
    run(bundler, "build", spec, "--out", tmp_path / "same.kit", *common)
    run(bundler, "build", spec, "--out", tmp_path / "same.delta", *delta, *common)
    spec = write_site(site, 2, push_images(registry, tmp_path, 2, SMALL), registry, SMALL)
    run(bundler, "build", spec, "--out", tmp_path / "day2.kit", *common)
    run(bundler, "build", spec, "--out", tmp_path / "day2.delta", *delta, *common)
    return tmp_path


@pytest.mark.services
def test_a_next_day_kit_of_the_same_images_has_the_same_sboms_and_releases(days: Path) -> None:
    day1, day2 = manifest(days / "day1.kit"), manifest(days / "same.kit")
    assert day2.created > day1.created and day2.sequence == day1.sequence + 1
    assert manifest(days / "day1.kit").kit_id != manifest(days / "same.kit").kit_id
    sboms = content_entries(day1)
    assert len([p for p in sboms if p.startswith("sboms/")]) == 6 and len(sboms) == 9
    assert content_entries(day2) == sboms
    data = contents(days / "day1.kit")
    for path in sboms:
        doc = json.loads(data[path])
        when = doc.get("created") or doc.get("metadata", {}).get("timestamp") or doc["creationInfo"]["created"]
        assert when.replace("+00:00", "Z") == "2026-10-31T12:30:00Z", path   # the images' own time, in UTC
    delta = manifest(days / "same.delta")
    assert content_entries(delta) == {}
    assert content_entries(delta, carried=False) == sboms


@pytest.mark.services
def test_a_delta_carries_only_the_rebuilt_release_and_its_sboms(days: Path) -> None:
    day1, full, delta = (manifest(days / k) for k in ("day1.kit", "day2.kit", "day2.delta"))
    carried = content_entries(delta)
    assert {p for p in carried if p.startswith("releases/")} == {"releases/app0/2.0.json"}
    assert len(carried) == 3   # app0 2.0's release and its CycloneDX and SPDX documents
    inherited = content_entries(delta, carried=False)
    assert content_entries(full) == {**inherited, **carried}
    assert len(inherited) == 6 and inherited.items() <= content_entries(day1).items()   # app1, app2: as on day 1
    assert not any(p.startswith("releases/app0/") for p in inherited)
    data = contents(days / "day2.delta")
    release = json.loads(data["releases/app0/2.0.json"])
    assert release["created"] == "2026-11-01T18:00:00Z"   # the rebuilt image's time, not the kit's
    sbom = release["components"][0]["manifests"][0]["sboms"]["cyclonedx"]
    assert json.loads(data[sbom])["metadata"]["timestamp"] == "2026-11-01T18:00:00+00:00"


@pytest.mark.services
def test_importing_the_delta_equals_importing_the_full_kit(days: Path) -> None:
    homes = {name: days / name for name in ("a", "b")}
    for home in homes.values():
        run(stella, "init", "--trust", days / "trust.json", "--registry-addr", "127.0.0.1:9", "--home", home)
        run(stella, "import", days / "day1.kit", "--no-seed", "--home", home)
    run(stella, "import", days / "day2.delta", "--no-seed", "--home", homes["a"])
    run(stella, "import", days / "day2.kit", "--no-seed", "--home", homes["b"])
    ids = {manifest(days / "day2.delta").kit_id: manifest(days / "day2.kit").kit_id}
    a, b = dump(homes["a"], ids), dump(homes["b"], {})
    assert a == b and len(a["releases"]) == 6   # three releases in each of the two kits


@pytest.mark.services
def test_the_sbom_command_dates_an_image_by_itself_unless_told(registry: str, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    layout = OCILayout(tmp_path / "src")
    desc, _ = make_image(layout, [Layer({"etc/hello": b"hi\n"})], created="2026-10-31T14:30:00.5+02:00")
    push(registry, tmp_path / "src", desc, "stella-test/dated:v1")
    ref = f"{registry}/stella-test/dated:v1"
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    own = json.loads(run(sbom, ref, "--insecure"))
    assert own["metadata"]["timestamp"] == "2026-10-31T12:30:00+00:00"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1793404800")   # 2026-10-31T00:00:00Z: before the image
    assert json.loads(run(sbom, ref, "--insecure"))["metadata"]["timestamp"] == "2026-10-31T00:00:00+00:00"
    told = json.loads(run(sbom, ref, "--insecure", "--format", "spdx", "--created", "2026-01-02T03:04:05Z"))
    assert told["creationInfo"]["created"] == "2026-01-02T03:04:05Z"
