"""Gate 4, approvals: N of M with a role, separation of duties, each person once.

Counted: ``approve`` decisions by users holding the environment's approver role, one per
user. With separation of duties the requester's and the deployer's own approvals never
count (the appliance also refuses to record them). Any ``reject`` fails the gate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kit.gates.model import FAIL, PASS, SKIPPED, GateResult

NAME = "approvals"


def _excluded(item: Mapping[str, Any], role: str, sod: bool, requester: str, deployer: str | None) -> str | None:
    user = item.get("user")
    if role not in (item.get("roles") or []):
        return f"{user} lacks role {role}"
    if sod and user == requester:
        return f"{user} requested this promotion (separation of duties)"
    if sod and deployer is not None and user == deployer:
        return f"{user} deploys this promotion (separation of duties)"
    return None


def evaluate(inputs: Mapping[str, Any]) -> GateResult:
    env = inputs["environment"]
    need, role = env["requiredApprovals"], env.get("approverRole") or "approver"
    sod = bool(env.get("separationOfDuties"))
    items = sorted(inputs["approvals"]["approvals"], key=lambda a: (str(a.get("at")), str(a.get("user"))))
    requester, deployer = inputs["promotion"]["requester"], inputs["approvals"].get("deployer")
    rejected = [a for a in items if a.get("decision") == "reject"]
    if rejected:
        r = rejected[0]
        return GateResult(NAME, FAIL, f"rejected by {r.get('user')}: {r.get('comment') or 'no comment'}",
                          {"rejections": rejected})
    if need <= 0:
        return GateResult(NAME, SKIPPED, f"{env['name']} requires no approvals", {"approvals": items})
    counted: dict[str, Any] = {}
    ignored = []
    for item in items:
        if item.get("decision") != "approve":
            continue
        why = _excluded(item, role, sod, requester, deployer)
        if why is not None:
            ignored.append({"user": item.get("user"), "why": why})
        elif item.get("user") not in counted:
            counted[str(item.get("user"))] = item
    trace = {"required": need, "role": role, "separationOfDuties": sod, "counted": sorted(counted),
             "ignored": ignored}
    have = len(counted)
    if have >= need:
        return GateResult(NAME, PASS, f"{have} of {need} approvals by role {role}", trace)
    return GateResult(NAME, FAIL, f"{have} of {need} approvals by role {role}; waiting for {need - have} more", trace)
