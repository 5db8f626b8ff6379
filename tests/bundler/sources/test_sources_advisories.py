"""Advisory sources: kit.yaml items, normalizing, merging, sources.json, bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bundler.errors import SpecError
from bundler.sources.advisories import ADVISORY_RECORDS_TYPE, ADVISORY_SOURCES_TYPE, advisory_entries
from bundler.sources.advisory_spec import parse_advisory_inputs
from kit import canonical
from kit.findings.advisory import advisory_from_dict
from kit.schema import validate
from kit.timeutil import format_time, parse_time


def osv(ident: str, modified: str = "2024-01-01T00:00:00Z", **extra: Any) -> dict[str, Any]:
    doc = {"id": ident, "modified": modified,
           "affected": [{"package": {"ecosystem": "PyPI", "name": "demo"},
                         "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0"}]}]}]}
    doc.update(extra)
    return doc


def write_json(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def build(base: Path, value: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    entries, _report = advisory_entries(parse_advisory_inputs(value, base, "kit.yaml"))
    assert [(e.path, e.media_type) for e in entries] == [
        ("advisories/records.ndjson", ADVISORY_RECORDS_TYPE), ("advisories/sources.json", ADVISORY_SOURCES_TYPE)]
    records = [canonical.loads(line) for line in (entries[0].data or b"").splitlines()]
    sources = canonical.loads(entries[1].data or b"")
    validate("advisory-sources", sources, "sources.json")
    return records, sources


def test_real_pypa_export(shared_data: Path) -> None:
    value = ["osv/pypa-advisory-database.zip"]
    entries, report = advisory_entries(parse_advisory_inputs(value, shared_data, "kit.yaml"))
    again, _ = advisory_entries(parse_advisory_inputs(value, shared_data, "kit.yaml"))
    assert [e.data for e in entries] == [e.data for e in again]  # same inputs, same bytes
    lines = (entries[0].data or b"").splitlines()
    assert len(lines) == report.records == 2661
    ids = [canonical.loads(line)["id"] for line in lines]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert all(canonical.dumps(canonical.loads(line)) == line for line in lines[:200])
    first = advisory_from_dict(canonical.loads(lines[0]))
    assert first.source == "pypa" and first.affected
    sources = canonical.loads(entries[1].data or b"")
    validate("advisory-sources", sources, "sources.json")
    (source,) = sources["sources"]
    assert source["name"] == "pypa" and source["snapshot_from"] == "records"
    assert source["files"][0]["path"] == "osv/pypa-advisory-database.zip"
    newest = max(parse_time(json.loads(line)["modified"]) for line in lines)
    assert source["snapshot"] == format_time(newest)


def test_ndjson_folder_merge_and_malformed(tmp_path: Path) -> None:
    ghsa = tmp_path / "ghsa"
    write_json(ghsa / "a" / "GHSA-aaaa-0001.json", osv(
        "GHSA-aaaa-0001", "2024-05-01T00:00:00Z", aliases=["CVE-2024-1"], summary="from ghsa",
        severity=[{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}]))
    write_json(ghsa / "GHSA-aaaa-0002.json", osv("GHSA-aaaa-0002"))
    (ghsa / "broken.json").write_text("{not json", encoding="utf-8")
    lines = [osv("GHSA-aaaa-0001", "2024-02-01T00:00:00Z", aliases=["PYSEC-2024-9"], withdrawn=""),
             {"id": "PYSEC-bad", "modified": "2024-01-01T00:00:00Z", "affected": "nope"},
             osv("PYSEC-2024-1", "yesterday")]
    (tmp_path / "extra.ndjson").write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    records, sources = build(tmp_path, ["ghsa", {"path": "extra.ndjson", "source": "local", "priority": 5,
                                                 "snapshot": "2024-06-01T12:00:00+02:00"}])
    assert [r["id"] for r in records] == ["GHSA-aaaa-0001", "GHSA-aaaa-0002"]
    merged = records[0]
    # local wins on priority: its dates and ranges; ghsa fills the summary and severity it lacks
    assert merged["source"] == "local" and merged["modified"] == "2024-02-01T00:00:00Z"
    assert merged["summary"] == "from ghsa" and merged["severity"][0]["score"] == "9.8"
    assert merged["aliases"] == ["CVE-2024-1", "PYSEC-2024-9"]
    (decision,) = sources["merges"]
    assert decision["winner"] == "local" and [c["source"] for c in decision["candidates"]] == ["local", "ghsa"]
    assert decision["fields"]["summary"] == "ghsa" and decision["fields"]["affected"] == "local"
    by_name = {s["name"]: s for s in sources["sources"]}
    assert by_name["local"]["snapshot"] == "2024-06-01T10:00:00Z"
    assert by_name["ghsa"]["snapshot"] == "2024-05-01T00:00:00Z"
    assert [f["path"] for f in by_name["ghsa"]["files"]] == [
        "ghsa/GHSA-aaaa-0002.json", "ghsa/a/GHSA-aaaa-0001.json", "ghsa/broken.json"]
    skipped = {(s["file"], s["record"]) for s in by_name["local"]["skipped"]}
    assert skipped == {("extra.ndjson", "PYSEC-bad"), ("extra.ndjson", "PYSEC-2024-1")}
    assert by_name["ghsa"]["skipped"][0]["file"] == "ghsa/broken.json"


def test_precedence_without_priority_is_newest_then_name(tmp_path: Path) -> None:
    write_json(tmp_path / "one.json", osv("OSV-1", "2024-01-01T00:00:00Z", summary="old"))
    write_json(tmp_path / "two.json", osv("OSV-1", "2024-03-01T00:00:00Z", summary="new"))
    records, _ = build(tmp_path, [{"path": "one.json", "source": "b"}, {"path": "two.json", "source": "a"}])
    assert records[0]["summary"] == "new" and records[0]["source"] == "a"
    write_json(tmp_path / "two.json", osv("OSV-1", "2024-01-01T00:00:00Z", summary="tie"))
    records, _ = build(tmp_path, [{"path": "one.json", "source": "b"}, {"path": "two.json", "source": "a"}])
    assert records[0]["summary"] == "tie"  # same priority and time: source name decides


def test_input_order_does_not_change_bytes(tmp_path: Path) -> None:
    write_json(tmp_path / "x.json", [osv("OSV-1", summary="x"), osv("OSV-2")])
    write_json(tmp_path / "y.json", [osv("OSV-1", summary="y"), osv("OSV-3")])
    x, y = {"path": "x.json", "source": "x"}, {"path": "y.json", "source": "y"}
    one = advisory_entries(parse_advisory_inputs([x, y], tmp_path, "k"))[0]
    two = advisory_entries(parse_advisory_inputs([y, x], tmp_path, "k"))[0]
    assert [e.data for e in one] == [e.data for e in two]


def test_derived_source_names(tmp_path: Path) -> None:
    write_json(tmp_path / "My Feed.json", [osv("OSV-1"), osv("GHSA-1")])
    write_json(tmp_path / "py.json", osv("PYSEC-2024-1"))
    _, sources = build(tmp_path, ["My Feed.json", "py.json"])
    assert sorted(s["name"] for s in sources["sources"]) == ["my-feed", "pypa"]


@pytest.mark.parametrize("value, message", [
    ([{"path": "a.json", "colour": 1}], r"advisories\[0\]: unknown key 'colour'"),
    ([{"path": "a.json", "priority": True}], "priority must be an integer"),
    ([{"path": "a.json", "snapshot": "soon"}], "snapshot: not an RFC 3339 time"),
    ([{"path": "a.json", "source": "Bad Name"}], "source must be lowercase"),
    (["missing.json"], r"advisories\[0\]: missing.json does not exist"),
    ([{"path": "a.json", "source": "s"}, {"path": "b.json", "source": "s"}], "source name 's' is given twice"),
    ([7], "must be a path or a mapping"),
])
def test_bad_items(tmp_path: Path, value: Any, message: str) -> None:
    write_json(tmp_path / "a.json", osv("OSV-1"))
    write_json(tmp_path / "b.json", osv("OSV-2"))
    with pytest.raises(SpecError, match=message):
        parse_advisory_inputs(value, tmp_path, "kit.yaml")


def test_source_without_valid_records_fails(tmp_path: Path) -> None:
    write_json(tmp_path / "good.json", osv("OSV-1"))
    write_json(tmp_path / "bad.json", {"id": "OSV-9", "modified": "2024-01-01T00:00:00Z", "affected": 3})
    with pytest.raises(SpecError, match=r"bad.json: no valid advisory records \(1 skipped\); first: .*OSV-9"):
        build(tmp_path, ["good.json", "bad.json"])


def test_unreadable_zip_fails(tmp_path: Path) -> None:
    (tmp_path / "all.zip").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(SpecError, match="advisories: all.zip: .*cannot read"):
        build(tmp_path, ["all.zip"])


def test_two_inputs_deriving_one_name_fail(tmp_path: Path) -> None:
    write_json(tmp_path / "a.json", osv("GHSA-1"))
    write_json(tmp_path / "b.json", osv("GHSA-2"))
    with pytest.raises(SpecError, match="a.json and b.json are both source 'ghsa'"):
        build(tmp_path, ["a.json", "b.json"])


def test_no_inputs_no_entries() -> None:
    assert advisory_entries(()) == ([], advisory_entries(())[1])
    assert advisory_entries(())[0] == []
