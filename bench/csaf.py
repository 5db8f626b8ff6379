"""Benchmark of the CSAF 2.0 source (a script, not a test).

Generates a Red Hat-shaped CSAF VEX document (one product per RPM build, in a vendor
branch, several vulnerabilities whose product statuses name thousands of them), then times
each step the bundler runs on it and the peak memory:

    .venv/bin/python bench/csaf.py [--products 20000] [--vulnerabilities 5]

Prints the document size; JSON load, official-schema check plus product tree and
references (``parse_csaf``), advisory records, OpenVEX form; and the peak RSS over the
loaded bytes (the reason for the 64 MiB default limit, docs/advisories.md).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kit import canonical  # noqa: E402
from kit.findings.csaf import csaf_vex_statements, parse_csaf  # noqa: E402
from kit.findings.csaf_advisory import csaf_advisories  # noqa: E402


def document(products: int, vulnerabilities: int) -> dict[str, Any]:
    branch = [{"category": "product_version", "name": f"p{i}", "product": {
        "name": f"pkg{i % 500}-1.{i}-1.el9.x86_64", "product_id": f"p{i}",
        "product_identification_helper": {"purl": f"pkg:rpm/redhat/pkg{i % 500}@1.{i}-1.el9?arch=x86_64"}}}
        for i in range(products)]
    vulns = [{"cve": f"CVE-2026-{1000 + v}",
              "product_status": {"fixed": [f"p{i}" for i in range(v, products, 7)],
                                 "known_affected": [f"p{i}" for i in range(v + 1, products, 13)]},
              "remediations": [{"category": "vendor_fix", "details": "Update.",
                                "product_ids": [f"p{i}" for i in range(v + 1, products, 13)]}]}
             for v in range(vulnerabilities)]
    now = "2026-11-20T10:00:00Z"
    return {"document": {"category": "csaf_vex", "csaf_version": "2.0", "title": "bench",
                         "publisher": {"category": "vendor", "name": "Bench PSIRT",
                                       "namespace": "https://psirt.example.com"},
                         "tracking": {"id": "BENCH-1", "status": "final", "version": "1",
                                      "current_release_date": now, "initial_release_date": now,
                                      "revision_history": [{"date": now, "number": "1", "summary": "x"}]}},
            "product_tree": {"branches": [{"category": "vendor", "name": "Bench", "branches": branch}]},
            "vulnerabilities": vulns}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=20000)
    parser.add_argument("--vulnerabilities", type=int, default=5)
    args = parser.parse_args()
    data = json.dumps(document(args.products, args.vulnerabilities)).encode()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    marks = [time.perf_counter()]
    doc = canonical.loads(data, allow_floats=True)
    marks.append(time.perf_counter())
    parsed = parse_csaf(doc)
    marks.append(time.perf_counter())
    records = csaf_advisories(parsed, "bench")
    marks.append(time.perf_counter())
    openvex = canonical.dumps(csaf_vex_statements(parsed).to_openvex())
    marks.append(time.perf_counter())
    peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
    steps = ("load", "check", "records", "openvex")
    timing = ", ".join(f"{name} {b - a:.2f} s" for name, a, b in zip(steps, marks, marks[1:], strict=False))
    print(f"CSAF {len(data) / 1e6:.1f} MB, {args.products} products, {len(records)} records, "
          f"OpenVEX {len(openvex) / 1e6:.1f} MB: {timing}; total {marks[-1] - marks[0]:.2f} s "
          f"({(marks[-1] - marks[0]) / (len(data) / 1e6):.2f} s/MB); peak memory +{peak / 1e6:.0f} MB "
          f"({peak / len(data):.1f}x the document)")


if __name__ == "__main__":
    main()
