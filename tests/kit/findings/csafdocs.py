"""Small CSAF 2.0 and CycloneDX VEX documents with purls, written here (the real examples in
../shared/data name products by CPE and name only), and the real examples' folders."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

NOW = "2026-11-20T10:00:00.000Z"
HIGH = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N"       # 9.1


def tree_product(pid: str, purl: str = "", cpe: str = "") -> dict[str, Any]:
    helper = {k: v for k, v in (("purl", purl), ("cpe", cpe)) if v}
    out: dict[str, Any] = {"name": pid, "product_id": pid}
    if helper:
        out["product_identification_helper"] = helper
    return out


def csaf(category: str = "csaf_security_advisory", *, tracking_id: str = "EXA-2026-0001",
         products: list[dict[str, Any]] | None = None, vulnerabilities: list[dict[str, Any]] | None = None,
         relationships: list[dict[str, Any]] | None = None, groups: list[dict[str, Any]] | None = None,
         publisher: str = "Example PSIRT") -> dict[str, Any]:
    """A CSAF 2.0 document; products go in a vendor branch (as vendors write them)."""
    tree: dict[str, Any] = {"branches": [{"category": "vendor", "name": "Example", "branches": [
        {"category": "product_version", "name": p["product_id"], "product": p} for p in products or []]}]}
    if relationships:
        tree["relationships"] = relationships
    if groups:
        tree["product_groups"] = groups
    doc: dict[str, Any] = {
        "document": {
            "category": category, "csaf_version": "2.0", "title": f"{tracking_id} example",
            "publisher": {"category": "vendor", "name": publisher, "namespace": "https://psirt.example.com"},
            "tracking": {"id": tracking_id, "status": "final", "version": "2", "current_release_date": NOW,
                         "initial_release_date": "2026-11-01T00:00:00Z",
                         "revision_history": [{"date": "2026-11-01T00:00:00Z", "number": "1", "summary": "first"},
                                              {"date": NOW, "number": "2", "summary": "fixed versions"}]}},
        "product_tree": tree}
    if vulnerabilities:
        doc["vulnerabilities"] = vulnerabilities
    return doc


def vuln(cve: str, status: dict[str, list[str]], **extra: Any) -> dict[str, Any]:
    return {"cve": cve, "product_status": status, **extra}


def score(products: list[str], vector: str = HIGH, base: float = 9.1) -> dict[str, Any]:
    return {"products": products, "cvss_v3": {"version": vector[5:8], "vectorString": vector, "baseScore": base,
                                              "baseSeverity": "CRITICAL" if base >= 9 else "HIGH"}}


def demo_advisory() -> dict[str, Any]:
    """pkg:pypi/demo: 1.0 and 1.1 affected, fixed in 1.2; pkg:npm/left-pad 1.3.0 known affected."""
    products = [tree_product("demo-1.0", "pkg:pypi/demo@1.0"), tree_product("demo-1.1", "pkg:pypi/demo@1.1"),
                tree_product("demo-1.2", "pkg:pypi/demo@1.2"),
                tree_product("left-pad-1.3.0", "pkg:npm/left-pad@1.3.0"),
                tree_product("appliance-9", cpe="cpe:2.3:a:example:appliance:9:*:*:*:*:*:*:*")]
    relationships = [{"category": "default_component_of", "product_reference": "demo-1.1",
                      "relates_to_product_reference": "appliance-9",
                      "full_product_name": {"name": "demo 1.1 in appliance 9", "product_id": "appliance-9:demo-1.1"}}]
    vulns = [
        vuln("CVE-2026-1001", {"first_affected": ["demo-1.0"], "known_affected": ["appliance-9:demo-1.1"],
                               "first_fixed": ["demo-1.2"]},
             scores=[score(["demo-1.0"])], title="demo: remote code execution",
             remediations=[{"category": "vendor_fix", "details": "Upgrade to 1.2", "group_ids": ["demo-old"],
                            "url": "https://psirt.example.com/fix"}],
             threats=[{"category": "impact", "details": "Important"}]),
        vuln("CVE-2026-1002", {"known_affected": ["left-pad-1.3.0"]},
             remediations=[{"category": "none_available", "details": "No fix yet", "product_ids": ["left-pad-1.3.0"]}]),
    ]
    return csaf(products=products, vulnerabilities=vulns, relationships=relationships,
                groups=[{"group_id": "demo-old", "product_ids": ["demo-1.0", "appliance-9:demo-1.1"]}])


def demo_vex() -> dict[str, Any]:
    """CSAF VEX: left-pad 1.3.0 not affected by CVE-2026-1002 (flagged), demo 1.0 under investigation."""
    products = [tree_product("left-pad-1.3.0", "pkg:npm/left-pad@1.3.0"), tree_product("demo-1.0", "pkg:pypi/demo@1.0")]
    vulns = [vuln("CVE-2026-1002", {"known_not_affected": ["left-pad-1.3.0"]},
                  flags=[{"label": "vulnerable_code_not_in_execute_path", "product_ids": ["left-pad-1.3.0"]}],
                  threats=[{"category": "impact", "details": "The padding code is never called.",
                            "product_ids": ["left-pad-1.3.0"]}]),
             vuln("CVE-2026-1001", {"under_investigation": ["demo-1.0"]})]
    return csaf("csaf_vex", tracking_id="EXA-VEX-2026-0007", products=products, vulnerabilities=vulns)


def cdx_vex(vulnerabilities: list[dict[str, Any]], **meta: Any) -> dict[str, Any]:
    components = [{"type": "library", "name": "demo", "version": "1.0", "purl": "pkg:pypi/demo@1.0",
                   "bom-ref": "demo-ref"},
                  {"type": "application", "name": "box", "bom-ref": "box", "components": [
                      {"type": "library", "name": "left-pad", "purl": "pkg:npm/left-pad@1.3.0", "bom-ref": "lp"}]}]
    return {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
            "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
            "metadata": {"timestamp": "2026-11-21T00:00:00Z", "supplier": {"name": "Site Team"}, **meta},
            "components": components, "vulnerabilities": vulnerabilities}


def cdx_vuln(ident: str, state: str, refs: list[str], **analysis: Any) -> dict[str, Any]:
    return {"id": ident, "analysis": {"state": state, **analysis}, "affects": [{"ref": r} for r in refs]}


def write(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    return path


def changed(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of *doc* with the value at the slash-separated *path* replaced."""
    out = copy.deepcopy(doc)
    *parents, last = path.strip("/").split("/")
    node: Any = out
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return out


def mutations(doc: Any, values: tuple[Any, ...]) -> Iterator[tuple[str, Any]]:
    """(path, copy of *doc* with the value at that path replaced by one of *values*) for every path."""
    def paths(node: Any, prefix: tuple[Any, ...]) -> Iterator[tuple[Any, ...]]:
        if prefix:
            yield prefix
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, child in items:
            yield from paths(child, (*prefix, key))

    for path in list(paths(doc, ())):
        for value in values:
            out = copy.deepcopy(doc)
            node = out
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
            yield "/".join(map(str, path)), out
