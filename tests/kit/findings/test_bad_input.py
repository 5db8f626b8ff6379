"""Bad input: each bad record is reported with file and id; the others still match."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from kit.findings.component import component_from_purl
from kit.findings.engine import evaluate
from kit.findings.errors import FindingsFormatError, FindingsIOError
from kit.findings.index import MemoryIndex
from kit.findings.loader import load_advisories
from kit.findings.osv import parse_osv
from kit.findings.sbom import load_sboms

from .conftest import cyclonedx, osv, write

GOOD = osv("GOOD-1", "demo", events=[{"introduced": "0"}, {"fixed": "2.0"}])


def test_malformed_osv_in_folder(tmp_path: Path) -> None:
    folder = tmp_path / "osv"
    write(folder / "good.json", GOOD)
    write(folder / "bad-event.json", osv("BAD-1", "demo", events=[{"introduced": "0"}, {"fixed": 2}]))
    write(folder / "no-package.json", {"id": "BAD-2", "modified": "x", "affected": [{}]})
    write(folder / "no-id.json", {"modified": "x"})
    (folder / "truncated.json").write_text('{"id": "BAD-3", "affected": [', encoding="utf-8")
    write(folder / "dupe.json", GOOD)  # same id twice: still one finding
    (folder / "dupkeys.json").write_text('{"id": "BAD-4", "id": "BAD-5"}', encoding="utf-8")
    loaded = load_advisories([folder])
    assert [a.id for a in loaded.records] == ["GOOD-1", "GOOD-1"]
    lines = [p.one_line() for p in loaded.problems]
    assert f"{folder / 'bad-event.json'} record BAD-1: range event {{'fixed': 2}} is not one of " \
           "('introduced', 'fixed', 'last_affected', 'limit')" in lines
    assert any(line.startswith(f"{folder / 'no-package.json'} record BAD-2: ") for line in lines)
    assert any(line.startswith(f"{folder / 'no-id.json'} record ?: ") for line in lines)
    assert any(line.startswith(f"{folder / 'truncated.json'}: invalid JSON") for line in lines)
    assert any("duplicate key 'id'" in line for line in lines)
    out = evaluate([component_from_purl("pkg:pypi/demo@1.0")], MemoryIndex(loaded.records),
                   problems=loaded.problems)
    assert [f.id for f in out.active] == ["GOOD-1"]
    assert len(out.problems) == 5


def test_zip_and_ndjson(tmp_path: Path) -> None:
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("GOOD-1.json", json.dumps(GOOD))
        z.writestr("BAD.json", "[1")
    nd = tmp_path / "feed.ndjson"
    nd.write_text(json.dumps(osv("ND-1", "demo", versions=["1.0"])) + "\n\nnot json\n", encoding="utf-8")
    loaded = load_advisories([archive, nd])
    assert [a.id for a in loaded.records] == ["GOOD-1", "ND-1"]
    assert sorted(p.one_line() for p in loaded.problems)[0].startswith(f"{archive}!BAD.json: invalid JSON")
    assert any(p.record == "line 3" for p in loaded.problems)


def test_invalid_range_version_skips_that_range_only() -> None:
    adv = osv("A-1", "demo", events=[{"introduced": "0"}, {"fixed": "not-a-version!"}], versions=["1.0"])
    loaded_index = MemoryIndex([parse_osv(adv, "t")])
    out = evaluate([component_from_purl("pkg:pypi/demo@1.0")], loaded_index)
    assert [f.id for f in out.active] == ["A-1"]  # via the versions list
    assert [p.one_line() for p in out.problems] == [
        "t record A-1: range skipped: 'not-a-version!' is not a valid PEP 440 version"]


def test_sbom_problems(tmp_path: Path) -> None:
    bom = cyclonedx(["pkg:pypi/demo@1.0", "pkg:pypi/noversion", "pkg:swift/x@1"])
    bom["components"].append({"type": "library", "name": "nopurl", "bom-ref": "ref-9"})
    write(tmp_path / "a.cdx.json", bom)
    comps, problems = load_sboms([tmp_path / "a.cdx.json"])
    assert [c.purl for c in comps] == ["pkg:pypi/demo@1.0", "pkg:swift/x@1"]
    assert [(p.record, p.message) for p in problems] == [
        ("pkg:pypi/noversion", "purl 'pkg:pypi/noversion' has no version"),
        ("ref-9", "component has no purl; not matched")]
    out = evaluate(comps, MemoryIndex())
    assert [p.message for p in out.problems] == [
        "skipped: no version rules for package type 'swift'"]


def test_unreadable_inputs(tmp_path: Path) -> None:
    with pytest.raises(FindingsIOError, match="no such file"):
        load_advisories([tmp_path / "missing"])
    (tmp_path / "x.json").write_text("{}", encoding="utf-8")
    with pytest.raises(FindingsFormatError, match="not a CycloneDX JSON document"):
        load_sboms([tmp_path / "x.json"])


def test_purl_without_version_takes_the_sbom_version(tmp_path: Path) -> None:
    bom = cyclonedx([])
    bom["components"] = [{"type": "library", "name": "demo", "purl": "pkg:pypi/demo",
                          "version": v, "bom-ref": f"r{v}"} for v in ("1.0", "3.0")]
    write(tmp_path / "a.cdx.json", bom)
    comps, problems = load_sboms([tmp_path / "a.cdx.json"])
    assert problems == () and [c.version for c in comps] == ["1.0", "3.0"]
    adv = parse_osv(GOOD, "t")
    out = evaluate(comps, MemoryIndex([adv]))
    assert [(f.purl, f.version) for f in out.findings] == [("pkg:pypi/demo", "1.0")]
