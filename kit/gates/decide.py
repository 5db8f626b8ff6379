"""The decision function: inputs → verdict and every gate's result and trace.

Pure and deterministic: the appliance calls it when a promotion is requested, approved
or re-evaluated, and ``stella-verify replay`` calls it on a packet's inputs. A gate
that raises on malformed data fails (with the reason) rather than aborting, so one bad
freeze window still yields a record that says what blocked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kit.errors import EngineUnavailable, KitError
from kit.gates import approvals, freeze, policy, previous
from kit.gates.inputs import check_inputs, digests
from kit.gates.model import FAIL, PASS, Decision, GateResult

GATES: tuple[tuple[str, Callable[[Mapping[str, Any]], GateResult]], ...] = (
    (policy.NAME, policy.evaluate), (freeze.NAME, freeze.evaluate),
    (previous.NAME, previous.evaluate), (approvals.NAME, approvals.evaluate),
)


def _run(name: str, gate: Callable[[Mapping[str, Any]], GateResult], inputs: Mapping[str, Any]) -> GateResult:
    try:
        return gate(inputs)
    except EngineUnavailable:           # the engine could not start: an error, never a verdict
        raise
    except KitError as exc:
        return GateResult(name, FAIL, f"{name} gate could not evaluate: {exc.one_line()}",
                          {"error": exc.kind, "entry": exc.entry})


def decide(inputs: Mapping[str, Any]) -> Decision:
    """Evaluate every gate over *inputs* (see kit.gates.inputs for their shape).

    Raises:
        KitFormatError: an input is missing or malformed (nothing is decided).
        EngineUnavailable: the Rego engine cannot start here (nothing is decided).
    """
    check_inputs(inputs)
    policy.time_limit(inputs["environment"])     # a limit that is not a number: a malformed input
    results = tuple(_run(name, gate, inputs) for name, gate in GATES)
    verdict = FAIL if any(r.blocks for r in results) else PASS
    promo = inputs["promotion"]
    subject = {"promotion": promo["id"], "release": promo["release"], "environment": promo["environment"]}
    return Decision(verdict, results, subject, inputs["time"]["evaluatedAt"], digests(inputs))
