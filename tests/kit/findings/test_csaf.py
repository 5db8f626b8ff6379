"""CSAF 2.0: the real OASIS examples, the product tree, the status mapping, and bad documents."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from kit.findings import MemoryIndex, evaluate
from kit.findings.component import component_from_purl
from kit.findings.csaf import csaf_vex_statements, parse_csaf
from kit.findings.csaf_advisory import csaf_advisories
from kit.findings.errors import FindingsFormatError
from kit.findings.vex_load import parse_openvex
from kit.schema import SCHEMA_DIR, validate

from .csafdocs import changed, csaf, demo_advisory, demo_vex, mutations, score, tree_product, vuln


@pytest.fixture(scope="module")
def examples(shared_data: Path) -> dict[str, Any]:
    folder = shared_data / "csaf" / "examples"
    return {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.rglob("*.json"))}


def test_every_official_example_validates_and_maps(examples: dict[str, Any]) -> None:
    assert len(examples) == 19
    for name, doc in examples.items():
        parsed = parse_csaf(doc)
        for record in csaf_advisories(parsed, "oasis"):
            validate("advisory-record", record.to_dict(), name)
        openvex = csaf_vex_statements(parsed).to_openvex()
        if openvex["statements"]:
            validate("openvex-0.2.0", openvex, name)
            assert parse_openvex(openvex, name).problems == ()


def _statuses(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(s.vulnerability, s.status, s.justification) for s in csaf_vex_statements(parse_csaf(doc)).statements]


def test_the_csaf_vex_use_cases_map_to_the_four_statuses(examples: dict[str, Any]) -> None:
    assert _statuses(examples["2022-evd-uc-01-a-001.json"]) == [("CVE-2021-44228", "affected", "")]
    assert _statuses(examples["2022-evd-uc-01-f-001.json"]) == [("CVE-2021-44228", "fixed", "")]
    assert _statuses(examples["2022-evd-uc-01-ui-001.json"]) == [("CVE-2021-44228", "under_investigation", "")]
    # not_affected with only an impact threat: no justification (the consensus refuses it, rule 3)
    [na] = csaf_vex_statements(parse_csaf(examples["2022-evd-uc-01-na-001.json"])).statements
    assert (na.status, na.justification) == ("not_affected", "") and na.impact_statement
    # flags give the justification
    assert set(_statuses(examples["sec-vex-2022-0001.json"])) == {
        ("CVE-2021-44228", "not_affected", "component_not_present"),
        ("CVE-2021-45046", "not_affected", "component_not_present"),
        ("CVE-2021-45105", "not_affected", "component_not_present")}


def test_red_hat_advisory_keeps_remediations_threats_cpes_and_label(examples: dict[str, Any]) -> None:
    records = {r.id: r for r in csaf_advisories(parse_csaf(examples["rhsa-2021_5186.json"]), "redhat")}
    record = records["RHSA-2021:5186/CVE-2021-4125"]
    assert record.aliases == ("CVE-2021-4125",) and record.label == "critical"
    assert record.cpes and all(c.startswith("cpe:/") for c in record.cpes)
    assert [r.category for r in record.remediations] == ["vendor_fix"]
    assert record.remediations[0].url.startswith("https://access.redhat.com/errata/")
    assert {t.category for t in record.threats} == {"impact"}
    assert record.affected == ()                  # products by CPE and name only: nothing to match


def test_cvss_scores_are_kept_with_the_computed_score(examples: dict[str, Any]) -> None:
    [record] = csaf_advisories(parse_csaf(examples["bsi-2022-0001.json"]), "bsi")
    assert [(s.type, s.score) for s in record.severity] == [("CVSS_V3", "6.1")]


def test_purls_ranges_groups_and_relationships() -> None:
    first, second = csaf_advisories(parse_csaf(demo_advisory()), "exa")
    assert first.id == "EXA-2026-0001/CVE-2026-1001" and first.aliases == ("CVE-2026-1001",)
    [demo] = first.affected
    assert (demo.purl, demo.versions) == ("pkg:pypi/demo", ("1.1",))
    assert [r.describe() for r in demo.ranges] == ["ECOSYSTEM introduced 1.0, fixed 1.2"]
    assert first.remediations[0].products == ("pkg:pypi/demo@1.0", "pkg:pypi/demo@1.1")  # the group, resolved
    assert first.cpes == ("cpe:2.3:a:example:appliance:9:*:*:*:*:*:*:*",)  # the platform of the relationship
    assert [(a.purl, a.versions, a.ranges) for a in second.affected] == [("pkg:npm/left-pad", ("1.3.0",), ())]
    index = MemoryIndex([first, second])
    comps = [component_from_purl(p) for p in ("pkg:pypi/demo@1.0", "pkg:pypi/demo@1.1", "pkg:pypi/demo@1.2",
                                              "pkg:npm/left-pad@1.3.0", "pkg:npm/left-pad@1.3.1")]
    found = {(f.purl, f.id) for f in evaluate(comps, index).findings}
    assert found == {("pkg:pypi/demo@1.0", "CVE-2026-1001"), ("pkg:pypi/demo@1.1", "CVE-2026-1001"),
                     ("pkg:npm/left-pad@1.3.0", "CVE-2026-1002")}


def test_vex_statements_from_a_csaf_vex_document_suppress_a_finding() -> None:
    doc = csaf_vex_statements(parse_csaf(demo_vex())).to_openvex()
    statements = parse_openvex(doc, "vex.json").statements
    index = MemoryIndex(csaf_advisories(parse_csaf(demo_advisory()), "exa"))
    outcome = evaluate([component_from_purl("pkg:npm/left-pad@1.3.0"), component_from_purl("pkg:pypi/demo@1.0")],
                       index, statements)
    by_id = {f.id: f.vex for f in outcome.findings}
    assert by_id["CVE-2026-1002"].status == "not_affected" and by_id["CVE-2026-1002"].suppressed
    assert by_id["CVE-2026-1001"].status == "under_investigation"


def _refused(doc: Any, where: str, message: str) -> None:
    with pytest.raises(FindingsFormatError) as caught:
        parse_csaf(doc)
    assert caught.value.entry == where
    assert caught.value.message.startswith(f"{where}: ") and message in caught.value.message
    assert "\n" not in caught.value.message


def test_a_product_id_never_defined_is_named_with_its_path() -> None:
    doc = demo_advisory()
    doc["vulnerabilities"][1]["product_status"]["known_affected"].append("CSAFPID-404")
    _refused(doc, "/vulnerabilities/1/product_status/known_affected/1", "'CSAFPID-404' is never defined")
    bad_group = changed(demo_advisory(), "/vulnerabilities/0/remediations/0/group_ids/0", "nope")
    _refused(bad_group, "/vulnerabilities/0/remediations/0/group_ids/0", "group id 'nope' is never defined")
    bad_score = changed(demo_advisory(), "/vulnerabilities/0/scores/0/products/0", "demo-9")
    _refused(bad_score, "/vulnerabilities/0/scores/0/products/0", "'demo-9' is never defined")


def test_circular_groups_and_relationships_are_refused() -> None:
    nested = demo_advisory()
    nested["product_tree"]["product_groups"].append({"group_id": "outer", "product_ids": ["demo-1.2", "demo-old"]})
    _refused(nested, "/product_tree/product_groups/1/product_ids/1", "groups cannot contain groups")
    loop = csaf(products=[tree_product("a", "pkg:pypi/a@1"), tree_product("p")], relationships=[
        {"category": "default_component_of", "product_reference": "y", "relates_to_product_reference": "p",
         "full_product_name": {"name": "x", "product_id": "x"}},
        {"category": "default_component_of", "product_reference": "x", "relates_to_product_reference": "p",
         "full_product_name": {"name": "y", "product_id": "y"}}],
        vulnerabilities=[vuln("CVE-2026-0001", {"known_affected": ["x"]})])
    _refused(loop, "/product_tree/relationships/0", "relationships form a circle: x -> y -> x")
    twice = csaf(products=[tree_product("a", "pkg:pypi/a@1"), tree_product("a", "pkg:pypi/a@2")])
    _refused(twice, "/product_tree/branches/0/branches/1/product", "'a' is defined twice")


def test_a_score_its_vector_disagrees_with_is_refused() -> None:
    doc = demo_advisory()
    doc["vulnerabilities"][0]["scores"] = [score(["demo-1.0"], base=5.3)]
    _refused(doc, "/vulnerabilities/0/scores/0/cvss_v3/baseScore", "baseScore 5.3 disagrees with its vector")


def test_schema_invalid_and_non_csaf_documents_are_refused(examples: dict[str, Any]) -> None:
    _refused(changed(examples["rhsa-2021_5217.json"], "/document/category", 7), "/document/category",
             "not valid CSAF 2.0: 7 is not of type 'string'")
    no_status = changed(demo_advisory(), "/vulnerabilities/1/product_status/known_affected", [])
    _refused(no_status, "/vulnerabilities/1/product_status/known_affected", "not valid CSAF 2.0")
    _refused({"id": "OSV-1"}, "/", "not a CSAF document")


def test_a_cvss_v4_score_is_kept_and_checked() -> None:
    v4 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"
    doc = demo_advisory()
    doc["vulnerabilities"][0]["scores"].append({"products": ["demo-1.0"], "cvss_v4": {
        "version": "4.0", "vectorString": v4, "baseScore": 9.3, "baseSeverity": "CRITICAL"}})
    first = csaf_advisories(parse_csaf(doc), "exa")[0]
    assert [(s.type, s.score) for s in first.severity] == [("CVSS_V3", "9.1"), ("CVSS_V4", "9.3")]
    doc["vulnerabilities"][0]["scores"][1]["cvss_v4"]["baseScore"] = 7.0
    _refused(doc, "/vulnerabilities/0/scores/1/cvss_v4/baseScore", "baseScore 7.0 disagrees")


def test_any_wrong_json_type_is_a_refusal_never_a_crash() -> None:
    for where, doc in mutations(demo_vex(), (None, 1, {"a": 1}, "demo-1.0")):
        try:
            csaf_vex_statements(parse_csaf(doc)).to_openvex()
            csaf_advisories(parse_csaf(doc), "x")
        except FindingsFormatError as exc:
            assert "\n" not in exc.message, where


def test_distribution_purls_keep_family_and_release() -> None:
    doc = csaf(products=[tree_product("ossl", "pkg:deb/debian/openssl@3.0.11-2?arch=source&distro=debian-12")],
               vulnerabilities=[vuln("CVE-2026-0042", {"fixed": ["ossl"]})])
    [record] = csaf_advisories(parse_csaf(doc), "debian")
    assert [(a.ecosystem, a.purl, a.fixed_versions()) for a in record.affected] == [
        ("Debian:12", "pkg:deb/debian/openssl", ("3.0.11-2",))]
    comps = [component_from_purl(p) for p in (
        "pkg:deb/debian/libssl3@3.0.11-1?distro=debian-12&upstream=openssl",
        "pkg:deb/debian/libssl3@3.0.11-1?distro=debian-11&upstream=openssl",
        "pkg:deb/ubuntu/libssl3@3.0.11-1?distro=ubuntu-24.04&upstream=openssl",
        "pkg:deb/debian/libssl3@3.0.11-2?distro=debian-12&upstream=openssl")]
    found = [f.purl for f in evaluate(comps, MemoryIndex([record])).findings]
    assert found == ["pkg:deb/debian/libssl3@3.0.11-1?distro=debian-12&upstream=openssl"]


def test_vendored_schemas_are_the_official_bytes() -> None:
    """docs/schemas/csaf-2.0.schema.md lists where they come from; an edit must be deliberate."""
    pinned = {"csaf-2.0": "29c114b35b0a30831f1674f2ab8b3ed9b2890cfeaa63b924ac6ed9d70ef44262",
              "cvss-v2.0": "cd1a7c0815b7a47dc12fb7dded10622b96d562841f7bc6d2d8765c5d937a28f2",
              "cvss-v3.0": "b2b587e5dfa6d9a4be89e25cb593df04f14e7ffbe8fe5b167ceee17b6097d919",
              "cvss-v3.1": "77ff3df106e4588e2bb5c9cf0237f962c62d35c5002443c4bf7cc7ca16ee171f"}
    for name, digest in pinned.items():
        assert hashlib.sha256((SCHEMA_DIR / f"{name}.schema.json").read_bytes()).hexdigest() == digest, name
    assert "OASIS" in (SCHEMA_DIR / "LICENSE-OASIS-CSAF.md").read_text(encoding="utf-8")


def test_the_csaf_vex_profile_needs_impact_and_action_statements() -> None:
    no_impact = demo_vex()
    del no_impact["vulnerabilities"][0]["flags"], no_impact["vulnerabilities"][0]["threats"]
    _refused(no_impact, "/vulnerabilities/0/product_status/known_not_affected/0",
             "csaf_vex: known_not_affected product 'left-pad-1.3.0' needs an impact statement")
    no_action = changed(demo_vex(), "/vulnerabilities/1/product_status", {"known_affected": ["demo-1.0"]})
    _refused(no_action, "/vulnerabilities/1/product_status/known_affected/0", "(CSAF 2.0 test 6.1.27.10)")
    with_action = changed(no_action, "/vulnerabilities/1/remediations",
                          [{"category": "workaround", "details": "Disable the feature", "product_ids": ["demo-1.0"]}])
    [_, affected] = csaf_vex_statements(parse_csaf(with_action)).statements
    assert affected.action_statement == "workaround: Disable the feature"
    assert csaf_advisories(parse_csaf(changed(no_action, "/document/category", "csaf_security_advisory")), "x")


def test_a_long_chain_of_relationships_resolves_without_recursion() -> None:
    count = 3000          # deeper than Python's recursion limit
    rels = [{"category": "default_component_of", "product_reference": f"r{i - 1}" if i else "a",
             "relates_to_product_reference": "p", "full_product_name": {"name": f"r{i}", "product_id": f"r{i}"}}
            for i in range(count)]
    doc = csaf(products=[tree_product("a", "pkg:pypi/a@1"), tree_product("p", cpe="cpe:/o:example:p:1")],
               relationships=rels[::-1], vulnerabilities=[vuln("CVE-2026-0001", {"known_affected": [f"r{count - 1}"]})])
    last = parse_csaf(doc).tree.products[f"r{count - 1}"]
    assert (last.purl, last.cpes) == ("pkg:pypi/a@1", ("cpe:/o:example:p:1",))
    rels[0]["product_reference"] = f"r{count - 1}"          # now a circle through all of them
    with pytest.raises(FindingsFormatError) as caught:
        parse_csaf(doc)
    assert caught.value.message.endswith(
        "relationships form a circle: r0 -> r2999 -> r2998 -> … (3000 products) … -> r1 -> r0")


def test_a_version_range_product_never_suppresses() -> None:
    """A product_version_range branch with a versionless purl: not_affected/fixed cannot be expressed."""
    doc = csaf("csaf_vex", products=[tree_product("lp-exact", "pkg:npm/left-pad@1.3.0")], vulnerabilities=[
        vuln("CVE-2026-1002", {"known_not_affected": ["lp-old", "lp-exact"], "known_affected": ["lp-new"]},
             flags=[{"label": "vulnerable_code_not_present", "product_ids": ["lp-old", "lp-exact"]}],
             remediations=[{"category": "vendor_fix", "details": "Upgrade", "product_ids": ["lp-new"]}])])
    doc["product_tree"]["branches"][0]["branches"] += [
        {"category": "product_version_range", "name": "vers:npm/<1.0.0",
         "product": tree_product("lp-old", "pkg:npm/left-pad")},
        {"category": "product_version_range", "name": "vers:npm/>=2.0.0",
         "product": tree_product("lp-new", "pkg:npm/left-pad")}]
    parsed = parse_csaf(doc)
    assert parsed.tree.products["lp-old"].version_range == "vers:npm/<1.0.0"
    got = {s.status: [p.id for p in s.products] for s in csaf_vex_statements(parsed).statements}
    assert got == {"not_affected": ["pkg:npm/left-pad@1.3.0"], "affected": ["pkg:npm/left-pad"]}
