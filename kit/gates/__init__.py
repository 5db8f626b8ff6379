"""Gate evaluation: the pure function from a decision's inputs to its verdict and trace.

``decide(inputs)`` runs four gates — policy (Rego via regopy, with a fail-closed time
limit), freeze (RFC 5545 windows, stop-the-line), previous environment (deployed,
soaked) and approvals (N of M, separation of duties) — and returns a ``Decision`` whose
``record()`` is the canonical decision record. The appliance and ``stella-verify
replay`` run this same code (docs/gates.md).
"""

from kit.gates.decide import GATES, decide
from kit.gates.inputs import NAMES as INPUT_NAMES, check_inputs, digests, file_entry
from kit.gates.model import FAIL, PASS, SKIPPED, Decision, GateResult

__all__ = ["FAIL", "GATES", "INPUT_NAMES", "PASS", "SKIPPED", "Decision", "GateResult", "check_inputs",
           "decide", "digests", "file_entry"]
