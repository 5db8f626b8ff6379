"""CSAF and CycloneDX VEX as kit.yaml sources: entries, determinism, size limit, one-line refusals."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bundler.cli import cli as bundler_cli
from bundler.errors import SpecError
from bundler.sources.advisories import advisory_entries
from bundler.sources.advisory_spec import parse_advisory_inputs
from bundler.sources.documents import MAX_DOCUMENT_BYTES
from bundler.sources.vex import OPENVEX_TYPE, vex_entries
from bundler.sources.vex_spec import VexInput, parse_vex_inputs
from kit import canonical
from kit.crypto import generate, write_key_dir
from kit.findings.vex_load import parse_openvex
from kit.schema import validate
from tests.kit.findings.csafdocs import cdx_vex, cdx_vuln, demo_advisory, demo_vex, write


def _advisories(base: Path, *items: object) -> tuple[list[dict[str, object]], dict[str, object]]:
    entries, _ = advisory_entries(parse_advisory_inputs(list(items), base, "kit.yaml"))
    records = [json.loads(line) for line in (entries[0].data or b"").splitlines()]
    return records, json.loads(entries[1].data or b"")


def test_csaf_advisories_from_the_official_examples(shared_data: Path, tmp_path: Path) -> None:
    shutil.copytree(shared_data / "csaf" / "examples", tmp_path / "csaf")
    records, sources = _advisories(tmp_path, {"path": "csaf", "format": "csaf", "source": "oasis"})
    for record in records:
        validate("advisory-record", record, "records.ndjson")
    assert len(records) == 59
    assert {"RHSA-2021:5186/CVE-2021-4125", "BSI-2022-0001/CVE-2022-27193"} <= {r["id"] for r in records}
    [source] = sources["sources"]  # type: ignore[index]
    assert source["records"] == 59 and len(source["files"]) == 19 and source["skipped"] == []


def test_a_csaf_document_given_as_osv_says_which_format(tmp_path: Path) -> None:
    write(tmp_path / "a.json", demo_advisory())
    with pytest.raises(SpecError, match="a CSAF document, not OSV: give this source 'format: csaf'"):
        _advisories(tmp_path, "a.json")


def _vex(tmp_path: Path) -> list[VexInput]:
    write(tmp_path / "vendor" / "exa-vex.json", demo_vex())
    write(tmp_path / "site.cdx.json", cdx_vex([cdx_vuln("CVE-2026-1002", "exploitable", ["lp"], response=["update"])]))
    return list(parse_vex_inputs([{"path": "vendor", "format": "csaf"},
                                  {"path": "site.cdx.json", "format": "cyclonedx"}], tmp_path, "kit.yaml"))


def test_csaf_and_cyclonedx_vex_become_openvex_with_the_original_beside(tmp_path: Path) -> None:
    entries = vex_entries(_vex(tmp_path))
    assert [(e.path, e.media_type) for e in entries] == [
        ("vex/vendor/exa-vex.openvex.json", OPENVEX_TYPE),
        ("vex-sources/vendor/exa-vex.json", "application/json"),
        ("vex/site.cdx.openvex.json", OPENVEX_TYPE),
        ("vex-sources/site.cdx.json", "application/vnd.cyclonedx+json")]
    assert entries[1].data == (tmp_path / "vendor" / "exa-vex.json").read_bytes()
    doc = canonical.loads(entries[0].data or b"")
    assert entries[0].data == canonical.dumps(doc)
    [na, ui] = parse_openvex(doc, "x").statements
    assert (na.issuer, na.status, na.justification) == ("Example PSIRT", "not_affected",
                                                        "vulnerable_code_not_in_execute_path")
    assert parse_openvex(canonical.loads(entries[2].data or b""), "y").statements[0].issuer == "Site Team"
    again = vex_entries(_vex(tmp_path))
    assert [e.data for e in again] == [e.data for e in entries]          # deterministic


def test_a_2gb_csaf_file_is_refused_by_its_size_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    big = tmp_path / "huge.json"
    with open(big, "wb") as fh:
        fh.truncate(2 << 30)                 # sparse: 2 GiB on paper, nothing on disk
    reads: list[Path] = []
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: reads.append(self) or real(self))
    started = time.monotonic()
    for run in (lambda: _advisories(tmp_path, {"path": "huge.json", "format": "csaf"}),
                lambda: vex_entries(parse_vex_inputs([{"path": "huge.json", "format": "csaf"}], tmp_path, "k"))):
        with pytest.raises(SpecError) as caught:
            run()
        assert f"huge.json: 2147483648 bytes is over the limit of {MAX_DOCUMENT_BYTES} bytes" in caught.value.message
    assert reads == [] and time.monotonic() - started < 2


@pytest.mark.parametrize("kind, change, message", [
    ("csaf", lambda d: d["vulnerabilities"][0]["product_status"]["known_affected"].append("ghost"),
     "vendor/exa.json: /vulnerabilities/0/product_status/known_affected/1: product id 'ghost' is never defined"),
    ("csaf", lambda d: d["vulnerabilities"][0]["scores"][0]["cvss_v3"].update(baseScore=2.0),
     "vendor/exa.json: /vulnerabilities/0/scores/0/cvss_v3/baseScore: baseScore 2.0 disagrees with its vector"),
    ("csaf", lambda d: d["document"].pop("publisher"),
     "vendor/exa.json: /document: not valid CSAF 2.0: 'publisher' is a required property"),
])
def test_bad_csaf_fails_the_build_naming_file_and_json_path(tmp_path: Path, kind: str, change: object,
                                                           message: str) -> None:
    doc = demo_advisory()
    change(doc)  # type: ignore[operator]
    write(tmp_path / "vendor" / "exa.json", doc)
    for run in (lambda: _advisories(tmp_path, {"path": "vendor", "format": "csaf"}),
                lambda: vex_entries(parse_vex_inputs([{"path": "vendor", "format": "csaf"}], tmp_path, "k"))):
        with pytest.raises(SpecError) as caught:
            run()
        assert message in caught.value.message and "\n" not in caught.value.message


def test_bad_cyclonedx_fails_naming_file_and_json_path(tmp_path: Path) -> None:
    write(tmp_path / "site.json", cdx_vex([cdx_vuln("CVE-2026-1002", "exploitable", ["nobody"])]))
    with pytest.raises(SpecError, match=r"^vex: site.json: /vulnerabilities/0/affects/0/ref: ref 'nobody' names no"):
        vex_entries(parse_vex_inputs([{"path": "site.json", "format": "cyclonedx"}], tmp_path, "k"))


def test_openvex_input_that_is_csaf_says_which_format(tmp_path: Path) -> None:
    path = write(tmp_path / "v.json", demo_vex())
    with pytest.raises(SpecError, match="not an OpenVEX document; this is a CSAF document: give this input "
                                        "'format: csaf'"):
        vex_entries([path])


@pytest.mark.parametrize("item, message", [
    ({"path": "x.json", "format": "spdx"}, "format must be one of openvex, csaf, cyclonedx"),
    ({"path": "x.json", "format": "csaf", "issuer": "me"}, "issuer and timestamp are for format cyclonedx only"),
    ({"path": "x.json", "format": "cyclonedx", "timestamp": "soon"}, "timestamp"),
    ({"path": "x.json", "colour": "red"}, "unknown key 'colour'"),
    ({"path": "missing.json"}, "missing.json does not exist"),
])
def test_bad_vex_items(tmp_path: Path, item: dict[str, str], message: str) -> None:
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(SpecError, match=message):
        parse_vex_inputs([item], tmp_path, "kit.yaml")


def test_advisory_format_is_checked(tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(SpecError, match="format must be one of osv, csaf"):
        parse_advisory_inputs([{"path": "x.json", "format": "cvrf"}], tmp_path, "kit.yaml")
    assert os.path.exists(tmp_path / "x.json")


@pytest.mark.parametrize("item, bad, message", [
    ("advisories: [{path: vendor, format: csaf}]", "csaf",
     "advisories: vendor/exa.json: /product_tree/relationships/0/product_reference: product id 'ghost' is never"),
    ("vex: [{path: vendor, format: csaf}]", "csaf",
     "vex: vendor/exa.json: /product_tree/relationships/0/product_reference: product id 'ghost' is never"),
    ("vex: [{path: vendor, format: cyclonedx}]", "cdx", "vex: vendor/exa.json: /vulnerabilities/0/ratings/0/score"),
])
def test_stella_bundler_build_refuses_and_writes_nothing(tmp_path: Path, item: str, bad: str, message: str) -> None:
    doc = demo_advisory()
    doc["product_tree"]["relationships"][0]["product_reference"] = "ghost"
    if bad == "cdx":
        doc = cdx_vex([{**cdx_vuln("CVE-2026-1001", "in_triage", ["lp"]), "ratings": [
            {"method": "CVSSv31", "score": 9.8, "vector": "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N"}]}])
    write(tmp_path / "vendor" / "exa.json", doc)
    (tmp_path / "kit.yaml").write_text("kit: {name: site, channel: stable, sequence: 1, created: 2026-11-01, "
                                       f"expires: 2027-11-01}}\n{item}\n")
    write_key_dir(tmp_path / "key", generate(), force=True)
    out = tmp_path / "site.stella-kit"
    result = CliRunner().invoke(bundler_cli, ["build", str(tmp_path / "kit.yaml"), "--key", str(tmp_path / "key"),
                                              "--out", str(out)])
    assert result.exit_code == 3, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists() and list(tmp_path.glob("*.stella-kit*")) == []


def test_the_size_limit_can_be_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path / "v.json", demo_vex())
    inputs = parse_vex_inputs([{"path": "v.json", "format": "csaf"}], tmp_path, "k")
    monkeypatch.setenv("STELLA_BUNDLER_MAX_DOCUMENT_BYTES", str(path.stat().st_size - 1))
    with pytest.raises(SpecError, match=f"over the limit of {path.stat().st_size - 1} bytes"):
        vex_entries(inputs)
    monkeypatch.setenv("STELLA_BUNDLER_MAX_DOCUMENT_BYTES", str(path.stat().st_size))
    assert len(vex_entries(inputs)) == 2
    monkeypatch.setenv("STELLA_BUNDLER_MAX_DOCUMENT_BYTES", "lots")
    with pytest.raises(SpecError, match="must be a positive number of bytes"):
        vex_entries(inputs)
