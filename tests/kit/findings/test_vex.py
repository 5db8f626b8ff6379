"""VEX consensus: one test per rule of docs/vex-consensus.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kit.findings.component import Location, component_from_purl
from kit.findings.vex import apply_vex, purl_covers
from kit.findings.vex_load import load_vex, parse_openvex
from kit.findings.vex_model import Tier, TrustTiers

from .conftest import IMAGE, openvex, write

PURL = "pkg:pypi/demo@1.0"
COMP = component_from_purl(PURL, locations=(Location(IMAGE, "sha256:l1"),))
IDS = frozenset({"PYSEC-1", "CVE-2024-1", "GHSA-1"})
TIERS = TrustTiers((Tier("vendor", ("Vendor",)), Tier("community", ("Alice", "Bob"))))


def st(status: str, vuln: str = "CVE-2024-1", product: Any = PURL, **extra: str) -> dict[str, Any]:
    out: dict[str, Any] = {"vulnerability": {"name": vuln}, "products": [product], "status": status}
    out.update(extra)
    return out


def decide(*docs: dict[str, Any], tiers: TrustTiers = TIERS):  # type: ignore[no-untyped-def]
    statements = [s for d in docs for s in parse_openvex(d, "vex.json").statements]
    return apply_vex(IDS, COMP, statements, tiers)


NA = {"justification": "vulnerable_code_not_present"}


def test_matches_by_alias_and_product_forms() -> None:
    for product in (PURL, "pkg:pypi/demo", "pkg:pypi/Demo@1.0.0", {"@id": "pkg:pypi/demo"},
                    {"@id": IMAGE}, {"@id": IMAGE, "subcomponents": [{"@id": "pkg:pypi/demo"}]},
                    "sha256:" + "a" * 64):
        d = decide(openvex("d1", "Alice", [st("not_affected", vuln="GHSA-1", product=product, **NA)]))
        assert d.status == "not_affected", product
    for product in ("pkg:pypi/demo@2.0", "pkg:pypi/other", "pkg:npm/demo",
                    {"@id": IMAGE, "subcomponents": [{"@id": "pkg:pypi/other"}]},
                    "pkg:oci/web@sha256:" + "b" * 64, "pkg:pypi/demo?extra=x"):
        d = decide(openvex("d1", "Alice", [st("not_affected", product=product, **NA)]))
        assert d.status == "none", product
    assert decide(openvex("d1", "Alice", [st("not_affected", vuln="CVE-9", **NA)])).status == "none"


def test_not_affected_needs_justification() -> None:
    d = decide(openvex("d1", "Alice", [st("not_affected", impact_statement="trust me")]))
    assert d.status == "none" and not d.suppressed
    assert [(c.outcome, c.why) for c in d.considered] == [
        ("rejected", "not_affected without a justification")]


def test_newest_statement_per_issuer_wins() -> None:
    old = openvex("d1", "Alice", [st("affected", action_statement="upgrade")], "2024-01-01T00:00:00Z")
    new = openvex("d2", "Alice", [st("not_affected", **NA)], "2024-06-01T00:00:00Z")
    d = decide(old, new)
    assert d.status == "not_affected" and d.used == ("d2#0",) and d.suppressed
    assert {c.ref: c.outcome for c in d.considered} == {"d1#0": "overridden", "d2#0": "used"}


def test_statement_timestamp_beats_document_timestamp() -> None:
    doc = openvex("d1", "Alice", [st("not_affected", timestamp="2025-01-01T00:00:00Z", **NA),
                                  st("affected", action_statement="upgrade")])
    assert decide(doc).status == "not_affected"


def test_higher_tier_wins_across_issuers() -> None:
    community = openvex("d1", "Alice", [st("affected", action_statement="upgrade")], "2025-01-01T00:00:00Z")
    vendor = openvex("d2", "Vendor", [st("not_affected", **NA)], "2024-01-01T00:00:00Z")
    d = decide(community, vendor)
    assert d.status == "not_affected" and d.used == ("d2#0",)
    assert "higher trust tier (vendor)" in {c.ref: c.why for c in d.considered}["d1#0"]


def test_same_tier_conflict_is_kept_and_resolves_cautiously() -> None:
    alice = openvex("d1", "Alice", [st("not_affected", **NA)])
    bob = openvex("d2", "Bob", [st("under_investigation")])
    d = decide(alice, bob)
    assert d.status == "under_investigation" and d.conflict and not d.suppressed
    assert sorted((c.ref, c.outcome) for c in d.considered) == [("d1#0", "conflict"), ("d2#0", "conflict")]
    fixed = openvex("d3", "Bob", [st("fixed")], "2025-01-01T00:00:00Z")
    assert decide(alice, fixed).status == "fixed"  # fixed is more cautious than not_affected


def test_affected_with_action_stays_a_finding() -> None:
    d = decide(openvex("d1", "Vendor", [st("affected", action_statement="upgrade to 1.1")]))
    assert d.status == "affected" and not d.suppressed and d.action_statement == "upgrade to 1.1"


def test_untrusted_issuer_is_shown_not_used() -> None:
    d = decide(openvex("d1", "Mallory", [st("not_affected", **NA)]))
    assert d.status == "none" and d.considered[0].outcome == "untrusted"
    assert decide(openvex("d1", "Mallory", [st("not_affected", **NA)]),
                  tiers=TrustTiers.default()).status == "not_affected"


def test_fixed_suppresses() -> None:
    assert decide(openvex("d1", "Alice", [st("fixed")])).suppressed


def test_purl_covers_versions_and_qualifiers() -> None:
    comp = "pkg:deb/debian/libssl3@3.0.11-1?arch=amd64&distro=debian-12"
    assert purl_covers("pkg:deb/debian/libssl3", comp, "3.0.11-1")
    assert purl_covers("pkg:deb/debian/libssl3@3.0.11-1?arch=amd64", comp, "3.0.11-1")
    assert not purl_covers("pkg:deb/debian/libssl3?arch=arm64", comp, "3.0.11-1")
    assert not purl_covers("pkg:deb/ubuntu/libssl3", comp, "3.0.11-1")


def test_bad_statements_are_reported_others_apply(tmp_path: Path) -> None:
    doc = openvex("d1", "Alice", [st("not_affected", **NA), st("maybe"),
                                  {"products": [PURL], "status": "fixed"}, st("fixed", product=None)])
    write(tmp_path / "a.json", doc)
    (tmp_path / "b.json").write_text("{not json", encoding="utf-8")
    write(tmp_path / "c.json", {"@id": "x", "statements": []})
    statements, problems = load_vex([tmp_path])
    assert [s.ref for s in statements] == ["d1#0"]
    lines = [p.one_line() for p in problems]
    assert any("a.json record d1#1: status 'maybe'" in line for line in lines)
    assert any("a.json record d1#2: statement names no vulnerability" in line for line in lines)
    assert any("a.json record d1#3" in line for line in lines)
    assert any(line.startswith(f"{tmp_path / 'b.json'}: invalid JSON") for line in lines)
    assert any("c.json record x: not an OpenVEX document" in line for line in lines)


def test_a_newer_version_of_the_same_document_wins_in_evaluate() -> None:
    """Two kits carry two versions of one OpenVEX document (same @id, so the same statement refs):
    both reach the engine, the newer decides (here: the site withdrew its not_affected)."""
    from kit.findings.engine import evaluate
    from kit.findings.index import MemoryIndex

    from .conftest import advisory
    adv = advisory("GHSA-1", "demo", aliases=["CVE-2024-1"], events=[{"introduced": "0"}, {"fixed": "9.0"}])
    old = openvex("https://vex.example/site", "Site", [st("not_affected", justification="component_not_present")],
                  timestamp="2024-05-01T00:00:00Z")
    new = openvex("https://vex.example/site", "Site", [st("under_investigation")], timestamp="2024-06-01T00:00:00Z")
    for order in ((old, new), (new, old)):          # whatever order the store lists them in
        statements = [s for doc in order for s in parse_openvex(doc, "vex/site.openvex.json").statements]
        [finding] = evaluate([component_from_purl(PURL)], MemoryIndex([adv]), statements).findings
        assert finding.vex is not None and finding.vex.status == "under_investigation"
        assert sorted(c.outcome for c in finding.vex.considered) == ["overridden", "used"]
