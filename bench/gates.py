"""Benchmark of the policy gate (a script, not a test).

A release with N (default 5,000) findings: one SBOM of N PyPI components, N advisories
(each affecting one component, a quarter critical, a quarter high, half with a fix), a
VEX statement for every tenth. Times, best of --runs, wall clock and CPU (this process
plus its evaluation children — steadier than wall time on a busy machine):

- old:    ``kit.gates.policy.evaluate_reference`` — the gate before the fast path: the
          whole Rego input document serialized to JSON, parsed by regopy
          (``set_input_term``) in a forked child under the time limit, pack added, ``query``;
- new:    ``kit.gates.policy.evaluate`` — the same document pruned to what the pack reads,
          built in memory (``regoInput``), the pack compiled once per process and reused
          (``query_bundle``), in a forked child under the same limit. "cold" is its first
          call in the process (the pack compiled in the child); the figure is the warm one,
          as for every further release (``stella reevaluate``, the server);
- direct: regopy evaluating the same default pack on the whole input JSON in-process (new
          Interpreter, data, module, set_input_term, query) — what one would write without
          our code.

Both gates must agree (the run stops otherwise). Prints old, new, the ratio old/new
(goal >= 4, new < 300 ms), direct, and for information the whole decision (findings
computed from the inputs + all four gates).

    .venv/bin/python bench/gates.py [--findings 5000] [--runs 5]
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kit.findings.osv import parse_osv  # noqa: E402
from kit.gates import (  # noqa: E402
    decide,  # noqa: E402
    policy,
    rego,
)
from kit.gates.findings import compute  # noqa: E402
from kit.gates.inputs import file_entry  # noqa: E402

PACK = ROOT / "appliance" / "policy" / "default"
VECTORS = ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N",
           "CVSS:3.1/AV:N/AC:H/PR:L/UI:R/S:U/C:L/I:L/A:N", "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N"]


def make_inputs(n: int) -> dict[str, Any]:
    comps = [{"type": "library", "name": f"pkg{i}", "version": "1.0.0", "purl": f"pkg:pypi/pkg{i}@1.0.0"}
             for i in range(n)]
    sbom = json.dumps({"bomFormat": "CycloneDX", "specVersion": "1.6", "components": comps})
    records = []
    for i in range(n):
        events = [{"introduced": "0"}] + ([{"fixed": "1.0.1"}] if i % 2 == 0 else [])
        records.append(parse_osv({"id": f"PYSEC-2026-{i}", "modified": "2026-01-01T00:00:00Z",
                                  "severity": [{"type": "CVSS_V3", "score": VECTORS[i % 4]}],
                                  "affected": [{"package": {"ecosystem": "PyPI", "name": f"pkg{i}"},
                                                "ranges": [{"type": "ECOSYSTEM", "events": events}]}]},
                                 "pypa").to_dict())
    vex = json.dumps({"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://x/vex", "author": "site",
                      "timestamp": "2026-01-01T00:00:00Z", "version": 1, "statements": [
                          {"vulnerability": {"name": f"PYSEC-2026-{i}"},
                           "products": [{"@id": f"pkg:pypi/pkg{i}@1.0.0"}],
                           "status": "not_affected", "justification": "vulnerable_code_not_present"}
                          for i in range(0, n, 10)]})
    manifest = "sha256:" + "a" * 64
    release = json.dumps({"_type": "stella/release", "name": "big", "version": "1.0.0",
                          "created": "2026-01-01T00:00:00Z",
                          "compose": None, "components": [{"service": "app", "digest": manifest, "manifests": [
                              {"digest": manifest, "platform": "linux/amd64", "config": manifest,
                               "sboms": {"cyclonedx": "sboms/a.cdx.json", "spdx": "sboms/a.spdx.json"}}]}]})
    return {
        "promotion": {"id": "P-0001", "release": {"name": "big", "version": "1.0.0"}, "environment": "prod",
                      "requester": "alice", "reason": "bench"},
        "release": file_entry("releases/big/1.0.0.json", release),
        "sboms": {"documents": [file_entry("sboms/a.cdx.json", sbom)]},
        "advisories": {"records": records, "sources": [{"source": "pypa", "snapshot": "2026-01-01T00:00:00Z"}]},
        "vex": {"documents": [file_entry("vex/site.json", vex)]},
        "policy": {"name": "default", "files": [file_entry(p.name, p.read_text()) for p in sorted(PACK.iterdir())]},
        "environment": {"name": "prod", "order": 3, "requiredApprovals": 0, "freezeWindows": [],
                        "stalenessBudgetHours": 168, "stopTheLine": None, "policyTimeoutSeconds": 120},
        "approvals": {"approvals": [], "deployer": None},
        "previous": {"environment": None},
        "time": {"evaluatedAt": "2026-01-02T00:00:00Z"},
    }


def best_of(runs: int, fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(best wall seconds, CPU seconds of that run incl. waited-for children, last result)."""
    best, best_cpu, result = float("inf"), 0.0, None
    for _ in range(runs):
        gc.collect()
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = time.process_time()
        start = time.perf_counter()
        result = fn()
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        used = time.process_time() - cpu + (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        if wall < best:
            best, best_cpu = wall, used
    return best, best_cpu, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--findings", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    inputs = make_inputs(args.findings)
    outcome = compute(inputs)
    modules, data = policy.split_pack(inputs)
    doc = json.dumps(policy.input_document(inputs, outcome), sort_keys=True, separators=(",", ":"))

    cold_t, _, _ = best_of(1, lambda: policy.evaluate(inputs, outcome))
    new_t, new_cpu, gate = best_of(args.runs, lambda: policy.evaluate(inputs, outcome))
    old_t, old_cpu, old_gate = best_of(args.runs, lambda: policy.evaluate_reference(inputs, outcome))
    direct_t, _, direct = best_of(args.runs, lambda: rego.evaluate_direct(modules, data, doc))
    assert gate == old_gate, "new and old gate disagree"
    assert direct["ok"] and list(gate.trace["deny"]) == direct["deny"], "gate and direct disagree"
    whole_t, _, decision = best_of(max(1, args.runs // 2), lambda: decide(inputs))
    print(f"findings: {len(outcome.findings)} ({len(outcome.active)} active), denied: {len(direct['deny'])}")
    print(f"policy gate, old (JSON text, fork, regopy query):    {old_t * 1000:8.1f} ms (CPU {old_cpu * 1000:7.1f} ms)")
    print(f"policy gate, new (pruned, in memory, compiled pack): {new_t * 1000:8.1f} ms (CPU {new_cpu * 1000:7.1f} ms)"
          f", cold {cold_t * 1000:.1f} ms")
    print(f"ratio old/new: {old_t / new_t:.2f} wall, {old_cpu / new_cpu:.2f} CPU (goal >= 4; new < 300 ms)")
    print(f"regopy direct on the whole input JSON:               {direct_t * 1000:8.1f} ms")
    print(f"whole decision (findings from inputs + 4 gates):     {whole_t * 1000:8.1f} ms, verdict {decision.verdict}")


if __name__ == "__main__":
    main()
