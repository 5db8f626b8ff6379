"""``approval``: wait until the promotion has its approvals; a rejection fails the step.

Settings not given come from the environment (role, count, separation of duties), so the
default template's approval step is exactly the environment's approvals gate. The count is
judged by kit.gates.approvals over the approvals recorded (`stella approve`); a step that
asks for more than the environment keeps the promotion waiting in the run, and the
environment's own approvals gate is re-checked at deploy as always.
"""

from __future__ import annotations

from typing import Any

from appliance import environments
from appliance.promotions import inputs, states, store as pstore
from appliance.runs.acts.base import Context, Done, Failed, Outcome, Waiting
from kit.gates import approvals
from kit.gates.model import FAIL


def act(ctx: Context) -> Outcome:
    p = pstore.get(ctx.db, ctx.run.promotion_id)
    env = environments.get(ctx.db, p.environment)
    s = ctx.settings
    config = {"name": env.name, "requiredApprovals": s.get("count", env.required_approvals),
              "approverRole": s.get("role", env.approver_role),
              "separationOfDuties": s.get("separationOfDuties", env.separation_of_duties)}
    evaluated = {"environment": config, "approvals": inputs.approvals_input(ctx.db, p.id, None),
                 "promotion": {"requester": p.requester}}
    result = approvals.evaluate(evaluated)
    replay = {"kind": "approvals", "inputs": evaluated,
              "result": {"verdict": result.verdict, "reason": result.reason}}
    trace: dict[str, Any] = dict(result.trace or {})
    outputs = {"approvers": sorted(trace.get("counted", [])), "count": len(trace.get("counted", []))}
    if p.state == states.REJECTED or "rejections" in trace:
        return Failed(result.reason, outputs, replay=replay)
    if result.verdict == FAIL or p.state in (states.REQUESTED, states.EVALUATED, states.AWAITING):
        return Waiting(result.reason, outputs=outputs)
    return Done(outputs, result.reason, replay=replay)
