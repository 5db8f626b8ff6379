"""Gate 1, policy: the site's Rego pack over the documented input document.

The input document (docs/gates.md "Rego input") is built here from the decision's
inputs: the release and its components pinned by digest, SBOM summaries, findings with
their effective VEX status, advisory snapshot times, the environment, the approvals so
far, provenance facts and the evaluation time. The pack must define
``data.stella.gate.deny`` as an array of strings; the gate passes when it is empty.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from kit.canonical import CanonicalJSONError, loads
from kit.errors import BadGateInput
from kit.findings import Outcome
from kit.gates import rego
from kit.gates.findings import compute, finding_fact
from kit.gates.model import FAIL, PASS, GateResult
from kit.timeutil import TimeFormatError, epoch_seconds, parse_time

NAME = "policy"
DEFAULT_LIMIT = 30
MAX_LIMIT = 3600       # seconds; no packet or environment raises it (docs/gates.md)


def time_limit(environment: Mapping[str, Any]) -> float:
    """The environment's ``policyTimeoutSeconds`` (default 30), capped at ``MAX_LIMIT``.

    The cap is the same on both sides of the gap, so a packet cannot make a replay wait
    longer than the appliance could have (``10**18`` is 3600 s, not an overflow).

    Raises:
        BadGateInput: the value is not a positive finite number.
    """
    value = environment.get("policyTimeoutSeconds")
    if value is None or (value == 0 and not isinstance(value, bool)):      # unset: the default, as always
        return float(DEFAULT_LIMIT)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0 \
            or (isinstance(value, float) and not math.isfinite(value)):
        shown = repr(value) if len(repr(value)) <= 40 else f"{repr(value)[:40]}…"
        raise BadGateInput(f"environment.policyTimeoutSeconds must be a positive number of seconds, not {shown}",
                           entry="environment")
    return float(min(value, MAX_LIMIT))


def _release(inputs: Mapping[str, Any]) -> dict[str, Any]:
    try:
        doc = loads(inputs["release"]["content"], allow_floats=True)
    except CanonicalJSONError:
        doc = {}
    return doc if isinstance(doc, dict) else {}


def _sboms(inputs: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for item in inputs["sboms"]["documents"]:
        try:
            doc = loads(item["content"], allow_floats=True)
        except CanonicalJSONError:
            doc = {}
        doc = doc if isinstance(doc, dict) else {}
        fmt = "cyclonedx" if doc.get("bomFormat") == "CycloneDX" else "spdx" if "spdxVersion" in doc else "unknown"
        comps = doc.get("packages" if fmt == "spdx" else "components")   # spdx: a vendor's SBOM
        out.append({"path": item["path"], "sha256": item["sha256"], "format": fmt,
                    "components": len(comps) if isinstance(comps, list) else 0})
    return out


def _time_ns(text: str) -> int:
    try:
        return epoch_seconds(parse_time(text)) * 1_000_000_000
    except TimeFormatError:
        return 0


def input_document(inputs: Mapping[str, Any], outcome: Outcome) -> dict[str, Any]:
    """The documented Rego input document."""
    release = _release(inputs)
    now = inputs["time"]["evaluatedAt"]
    return {
        "release": {"name": release.get("name"), "version": release.get("version"),
                    "created": release.get("created"), "components": release.get("components") or []},
        "sboms": _sboms(inputs),
        "findings": [finding_fact(f) for f in outcome.findings],
        "advisories": {"records": len(inputs["advisories"]["records"]),
                       "sources": [{**s, "snapshotNs": _time_ns(str(s.get("snapshot", "")))}
                                   for s in inputs["advisories"]["sources"]]},
        "environment": inputs["environment"],
        "approvals": inputs["approvals"]["approvals"],
        "provenance": inputs["promotion"].get("kit") or {},
        "promotion": {k: v for k, v in inputs["promotion"].items() if k != "kit"},
        "time": {"evaluatedAt": now, "evaluatedAtNs": _time_ns(now)},
    }


def _summary(outcome: Outcome) -> dict[str, Any]:
    ratings = Counter(f.rating for f in outcome.active)
    return {"total": len(outcome.findings), "active": len(outcome.active), "suppressed": len(outcome.suppressed),
            "components": outcome.components, "bySeverity": dict(sorted(ratings.items())),
            "skipped": [p.one_line() for p in outcome.problems[:20]], "skippedCount": len(outcome.problems)}


def split_pack(inputs: Mapping[str, Any]) -> tuple[list[rego.Module], str | None]:
    modules, data = [], None
    for item in sorted(inputs["policy"]["files"], key=lambda i: i["path"]):
        if item["path"].endswith(".rego"):
            modules.append(rego.Module(item["path"], item["content"]))
        elif item["path"].rsplit("/", 1)[-1] == "data.json":
            data = item["content"]
    return modules, data


def evaluate(inputs: Mapping[str, Any], outcome: Outcome | None = None) -> GateResult:
    """Run the pack; any error or timeout is FAIL with the reason.

    The input document goes to regopy in memory, pruned to what the pack reads, against
    the pack compiled once per process (``rego.evaluate_document``); the result is the
    same as :func:`evaluate_reference`'s, byte for byte (tests/kit/gates).
    """
    return _evaluate(inputs, outcome, rego.evaluate_document)


def evaluate_reference(inputs: Mapping[str, Any], outcome: Outcome | None = None) -> GateResult:
    """The gate as it ran before the fast path: the whole document as JSON text (benchmark, tests)."""
    def run(modules: list[rego.Module], data: str | None, doc: Mapping[str, Any], limit: float) -> rego.RegoOutcome:
        return rego.evaluate(modules, data, rego.input_json(doc), limit)
    return _evaluate(inputs, outcome, run)


Runner = Callable[[list[rego.Module], str | None, Mapping[str, Any], float], rego.RegoOutcome]


def _evaluate(inputs: Mapping[str, Any], outcome: Outcome | None, run: Runner) -> GateResult:
    outcome = outcome if outcome is not None else compute(inputs)
    modules, data = split_pack(inputs)
    pack = inputs["policy"]["name"]
    trace: dict[str, Any] = {"pack": pack, "modules": [m.path for m in modules], "findings": _summary(outcome)}
    if not modules:
        return GateResult(NAME, FAIL, f"policy pack {pack} has no Rego module", {**trace, "error": "no-modules"})
    result = run(modules, data, input_document(inputs, outcome), time_limit(inputs["environment"]))
    if not result.ok:
        return GateResult(NAME, FAIL, f"policy {pack} could not be evaluated ({result.kind}): {result.error}",
                          {**trace, "error": result.kind, "detail": result.error})
    trace["deny"] = list(result.deny)
    if result.deny:
        more = f" (+{len(result.deny) - 1} more)" if len(result.deny) > 1 else ""
        return GateResult(NAME, FAIL, f"policy {pack} denies: {result.deny[0]}{more}", trace)
    return GateResult(NAME, PASS, f"policy {pack}: nothing denied ({len(outcome.active)} active findings)", trace)
