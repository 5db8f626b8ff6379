"""The acts: one module per step type, each exporting ``act`` (see base.py).

Every type of kit.workflow.steps.REGISTRY has its act here (a test keeps them equal).
"""

from __future__ import annotations

import importlib

from appliance.runs.acts.base import Act
from kit.workflow.steps import REGISTRY


def act_for(step_type: str) -> Act:
    module = importlib.import_module(f"{__name__}.{step_type.replace('-', '_')}")
    found: Act = module.act
    return found


__all__ = ["REGISTRY", "act_for"]
