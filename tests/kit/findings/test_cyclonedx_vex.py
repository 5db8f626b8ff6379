"""CycloneDX VEX: the official CycloneDX/bom-examples VEX documents, refs, states, bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from appliance.cli import cli
from kit.findings import MemoryIndex, evaluate
from kit.findings.component import component_from_purl
from kit.findings.csaf import csaf_vex_statements, parse_csaf
from kit.findings.csaf_advisory import csaf_advisories
from kit.findings.cyclonedx_vex import cyclonedx_vex_statements
from kit.findings.errors import FindingsFormatError
from kit.findings.vex_load import parse_openvex
from kit.findings.vex_model import Tier, TrustTiers
from kit.schema import validate

from .conftest import cyclonedx
from .csafdocs import cdx_vex, cdx_vuln, demo_advisory, demo_vex, mutations, write


@pytest.fixture(scope="module")
def examples(shared_data: Path) -> dict[str, Any]:
    folder = shared_data / "cyclonedx-vex"
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*vex*.json"))}


# Official examples refused, and why (each reason is a rule of docs/vex.md):
REFUSED = {
    "vex.json": ("/vulnerabilities/0/ratings/1/score", "score 8.2 disagrees with its vector"),
    "Use-Cases_Case-7_vex.json": ("/vulnerabilities/0/affects", "names no product"),
    "CISA-Use-Cases_Case-7_vex.json": ("/metadata/timestamp", "no timestamp"),
    # its only analysis says "not affected" for version ranges, which no OpenVEX product can express
    "Use-Cases_Case-4_vex.json": ("/vulnerabilities", "naming a product OpenVEX can express"),
}


def test_official_examples_map_or_are_refused_for_a_stated_reason(examples: dict[str, Any]) -> None:
    assert len(examples) == 25
    mapped = 0
    for name, doc in examples.items():
        if name in REFUSED:
            where, message = REFUSED[name]
            with pytest.raises(FindingsFormatError, match=message) as caught:
                cyclonedx_vex_statements(doc, issuer="Acme", fallback_id=name)
            assert caught.value.entry == where
            continue
        vex = cyclonedx_vex_statements(doc, issuer="Acme", fallback_id=name,
                                       timestamp="2022-01-01T00:00:00Z").to_openvex()
        validate("openvex-0.2.0", vex, name)
        assert parse_openvex(vex, name).problems == ()
        mapped += 1
    assert mapped == 21


def test_cisa_case_1_states(examples: dict[str, Any]) -> None:
    got = {}
    for state in ("affected", "fixed", "not_affected", "under_investigation"):
        [s] = cyclonedx_vex_statements(examples[f"CISA-Use-Cases_Case-1_vex-{state}.json"], issuer="x").statements
        got[state] = (s.status, s.justification)
    assert got == {"affected": ("affected", ""), "fixed": ("fixed", ""),
                   "not_affected": ("not_affected", "vulnerable_code_not_present"),
                   "under_investigation": ("under_investigation", "")}


def test_a_timestamp_can_be_given_when_the_bom_has_none(examples: dict[str, Any]) -> None:
    vex = cyclonedx_vex_statements(examples["CISA-Use-Cases_Case-7_vex.json"], issuer="Acme",
                                   timestamp="2022-03-03T00:00:00Z")
    assert vex.timestamp == "2022-03-03T00:00:00Z" and vex.author == "Acme"


def test_refs_resolve_by_bom_ref_nested_component_purl_and_bom_link() -> None:
    link = "urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.10.0"
    doc = cdx_vex([cdx_vuln("CVE-2026-1001", "resolved", ["demo-ref", "lp", "pkg:gem/rack@3.0.0", link, "box"])])
    [s] = cyclonedx_vex_statements(doc).statements
    assert [(p.id, p.purl) for p in s.products] == [
        ("pkg:gem/rack@3.0.0", "pkg:gem/rack@3.0.0"), ("pkg:npm/left-pad@1.3.0", "pkg:npm/left-pad@1.3.0"),
        ("pkg:pypi/demo@1.0", "pkg:pypi/demo@1.0"), ("urn:cdx-ref:box", ""),
        (link, "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.10.0")]
    assert s.status == "fixed"


@pytest.mark.parametrize("cdx, openvex", [
    ("code_not_present", "vulnerable_code_not_present"), ("code_not_reachable", "vulnerable_code_not_in_execute_path"),
    ("requires_dependency", "component_not_present"),
    ("requires_environment", "vulnerable_code_cannot_be_controlled_by_adversary"),
    ("protected_at_runtime", "inline_mitigations_already_exist"),
])
def test_justifications(cdx: str, openvex: str) -> None:
    doc = cdx_vex([cdx_vuln("CVE-2026-1001", "not_affected", ["demo-ref"], justification=cdx, detail="why")])
    [s] = cyclonedx_vex_statements(doc).statements
    assert (s.status, s.justification, s.impact_statement) == ("not_affected", openvex, "why")


def test_responses_become_the_action_statement() -> None:
    doc = cdx_vex([cdx_vuln("CVE-2026-1001", "exploitable", ["demo-ref"], response=["update", "workaround_available"],
                            detail="Upgrade demo to 1.2.")])
    [s] = cyclonedx_vex_statements(doc).statements
    assert s.action_statement == "response: update, workaround_available; Upgrade demo to 1.2."


@pytest.mark.parametrize("change, where, message", [
    (lambda d: d["vulnerabilities"][0]["affects"].append({"ref": "ghost"}), "/vulnerabilities/0/affects/1/ref",
     "ref 'ghost' names no component"),
    (lambda d: d["vulnerabilities"][0]["analysis"].update(state="maybe"), "/vulnerabilities/0/analysis/state",
     "state 'maybe'"),
    (lambda d: d["vulnerabilities"][0]["analysis"].update(justification="because"),
     "/vulnerabilities/0/analysis/justification", "'because' is not a CycloneDX justification"),
    (lambda d: d["vulnerabilities"][0].update(ratings=[{"method": "CVSSv31", "score": 4.0,
                                                        "vector": "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N"}]),
     "/vulnerabilities/0/ratings/0/score", "score 4.0 disagrees with its vector CVSS:3.1/"),
    (lambda d: d["metadata"].pop("supplier"), "/metadata", "names no issuer"),
])
def test_bad_documents_are_refused_with_the_json_path(change: Any, where: str, message: str) -> None:
    doc = cdx_vex([cdx_vuln("CVE-2026-1001", "not_affected", ["demo-ref"], justification="code_not_present")])
    change(doc)
    with pytest.raises(FindingsFormatError) as caught:
        cyclonedx_vex_statements(doc)
    assert caught.value.entry == where and message in caught.value.message


def test_conflict_with_csaf_goes_through_consensus_and_tiers() -> None:
    """CSAF says left-pad is not affected by CVE-2026-1002; the site's CycloneDX VEX says exploitable."""
    index = MemoryIndex(csaf_advisories(parse_csaf(demo_advisory()), "exa"))
    csaf_st = parse_openvex(csaf_vex_statements(parse_csaf(demo_vex())).to_openvex(), "csaf").statements
    cdx = cdx_vex([cdx_vuln("CVE-2026-1002", "exploitable", ["lp"], response=["update"])])
    cdx_st = parse_openvex(cyclonedx_vex_statements(cdx).to_openvex(), "cdx").statements
    comp = [component_from_purl("pkg:npm/left-pad@1.3.0")]
    same_tier = evaluate(comp, index, [*csaf_st, *cdx_st]).findings[0].vex
    assert (same_tier.status, same_tier.conflict) == ("affected", True)
    tiers = TrustTiers((Tier("vendor", ("Example PSIRT",)), Tier("site", ("Site Team",))))
    vendor_first = evaluate(comp, index, [*csaf_st, *cdx_st], tiers).findings[0].vex
    assert (vendor_first.status, vendor_first.suppressed, vendor_first.conflict) == ("not_affected", True, False)


def test_ad_hoc_stella_findings_reads_csaf_and_cyclonedx_directly(tmp_path: Path) -> None:
    """``stella findings --advisories CSAF --vex CSAF --vex CYCLONEDX``: the same mapping as in kits."""
    sbom = write(tmp_path / "image.cdx.json", cyclonedx(["pkg:pypi/demo@1.0", "pkg:npm/left-pad@1.3.0"]))
    adv = write(tmp_path / "exa.json", demo_advisory())
    vendor = write(tmp_path / "vendor-vex.json", demo_vex())
    site = write(tmp_path / "site.cdx.json", cdx_vex([cdx_vuln("CVE-2026-1001", "not_affected", ["demo-ref"],
                                                               justification="code_not_reachable")]))
    args = ["findings", "--sbom", str(sbom), "--advisories", str(adv), "--json", "--show-suppressed"]
    result = CliRunner().invoke(cli, [*args, "--vex", str(vendor), "--vex", str(site)])
    assert result.exit_code == 1, result.output
    found = {f["id"]: f["vex"] for f in json.loads(result.output)["findings"]}
    assert (found["CVE-2026-1002"]["status"], found["CVE-2026-1002"]["suppressed"]) == ("not_affected", True)
    # vendor: under_investigation; site: not_affected, same tier -> the cautious status, conflict shown
    assert (found["CVE-2026-1001"]["status"], found["CVE-2026-1001"]["conflict"]) == ("under_investigation", True)
    bad = write(tmp_path / "bad.json", {**demo_vex(), "vulnerabilities": [
        {"cve": "CVE-2026-1003", "product_status": {"fixed": ["ghost"]}}]})
    skipped = CliRunner().invoke(cli, [*args, "--vex", str(bad), "--strict"])
    assert skipped.exit_code == 3
    assert "/vulnerabilities/0/product_status/fixed/0: product id 'ghost' is never defined" in skipped.output


def test_any_wrong_json_type_is_a_refusal_never_a_crash() -> None:
    doc = cdx_vex([{**cdx_vuln("CVE-2026-1", "exploitable", ["lp", "demo-ref"], response=["update"], detail="d"),
                    "ratings": [{"method": "CVSSv31", "score": 8.1, "vector": "AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N"}],
                    "references": [{"id": "GHSA-1"}]}])
    for where, bad in mutations(doc, (None, 1, 1.5, "x", [], {}, [1], {"a": 1}, True)):
        try:
            cyclonedx_vex_statements(bad, issuer="I", timestamp="2024-01-01T00:00:00Z").to_openvex()
        except FindingsFormatError as exc:
            assert "\n" not in exc.message, where


def test_affects_versions_give_each_exact_version_its_status_and_never_suppress_a_range() -> None:
    entry = {"ref": "pkg:npm/left-pad", "versions": [
        {"version": "1.3.0", "status": "unaffected"}, {"version": "1.2.0"}, {"version": "1.1.0", "status": "unknown"},
        {"range": "vers:npm/<1.0.0", "status": "unaffected"}, {"range": "vers:npm/>=2.0.0", "status": "affected"}]}
    doc = cdx_vex([{"id": "CVE-2026-1001", "analysis": {"state": "not_affected", "justification": "code_not_present"},
                    "affects": [entry, {"ref": "box", "versions": [{"version": "9", "status": "unaffected"}]}]}])
    got = {(s.status, s.justification): [p.id for p in s.products] for s in cyclonedx_vex_statements(doc).statements}
    assert got == {
        ("affected", ""): ["pkg:npm/left-pad", "pkg:npm/left-pad@1.2.0"],      # 1.2.0, and the affected range
        ("not_affected", "vulnerable_code_not_present"): ["pkg:npm/left-pad@1.3.0", "urn:cdx-ref:box@9"],
        ("under_investigation", ""): ["pkg:npm/left-pad@1.1.0"]}
    bad = cdx_vex([{"id": "CVE-2026-1001", "analysis": {"state": "exploitable"},
                    "affects": [{"ref": "lp", "versions": [{"version": "1", "status": "maybe"}]}]}])
    with pytest.raises(FindingsFormatError, match="/vulnerabilities/0/affects/0/versions/0: status 'maybe'"):
        cyclonedx_vex_statements(bad)
