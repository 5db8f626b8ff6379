"""Every step type of kit/workflow/steps has its act in appliance/runs/acts (one module a type)."""

from __future__ import annotations

import inspect

from appliance.runs.acts import act_for
from kit.workflow.steps import REGISTRY


def test_every_step_type_has_an_act() -> None:
    assert sorted(REGISTRY) == ["approval", "deploy", "fail", "gate", "health", "notify", "rollback", "script",
                                "wait"]
    for name in REGISTRY:
        act = act_for(name)
        assert callable(act) and list(inspect.signature(act).parameters) == ["ctx"], name
