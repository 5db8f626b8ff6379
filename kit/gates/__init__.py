"""Gate evaluation: the pure function from a decision's inputs to its verdict and trace.

``decide(inputs)`` runs four gates — policy (Rego via regopy, with a fail-closed time
limit), freeze (RFC 5545 windows, stop-the-line), previous environment (deployed,
soaked) and approvals (N of M, separation of duties) — and returns a ``Decision`` whose
``record()`` is the canonical decision record. The appliance and ``stella-verify
replay`` run this same code (docs/gates.md).

The names below are loaded on first use (PEP 562): importing one gate's module
(``kit.gates.freeze`` for a duration) must not load Rego and the findings engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kit.gates.decide import GATES, decide
    from kit.gates.inputs import NAMES as INPUT_NAMES, check_inputs, digests, file_entry
    from kit.gates.model import FAIL, PASS, SKIPPED, Decision, GateResult

_WHERE = {"GATES": ("decide", "GATES"), "decide": ("decide", "decide"), "INPUT_NAMES": ("inputs", "NAMES"),
          "check_inputs": ("inputs", "check_inputs"), "digests": ("inputs", "digests"),
          "file_entry": ("inputs", "file_entry"), "FAIL": ("model", "FAIL"), "PASS": ("model", "PASS"),
          "SKIPPED": ("model", "SKIPPED"), "Decision": ("model", "Decision"), "GateResult": ("model", "GateResult")}

__all__ = ["FAIL", "GATES", "INPUT_NAMES", "PASS", "SKIPPED", "Decision", "GateResult", "check_inputs",
           "decide", "digests", "file_entry"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module, attribute = _WHERE[name]
    value = getattr(importlib.import_module(f"{__name__}.{module}"), attribute)
    globals()[name] = value
    return value
