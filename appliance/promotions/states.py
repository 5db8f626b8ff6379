"""The promotion state machine (docs/promotions.md).

    requested → gates-evaluated → awaiting-approval → approved → deploying → deployed
                                                                           ↘ failed
    exits: rejected (an approver says no), cancelled (requester or admin),
           superseded (a newer promotion of another release to the same environment)

Every transition is a history row and an audit event; a refused one names the state
and what would be allowed.
"""

from __future__ import annotations

from appliance.promotions.errors import BadTransition

REQUESTED, EVALUATED, AWAITING = "requested", "gates-evaluated", "awaiting-approval"
APPROVED, DEPLOYING, DEPLOYED, FAILED = "approved", "deploying", "deployed", "failed"
REJECTED, CANCELLED, SUPERSEDED = "rejected", "cancelled", "superseded"
PENDING = (REQUESTED, EVALUATED, AWAITING, APPROVED)
FINAL = (DEPLOYED, FAILED, REJECTED, CANCELLED, SUPERSEDED)

ALLOWED: dict[str | None, tuple[str, ...]] = {
    None: (REQUESTED,),
    REQUESTED: (EVALUATED, CANCELLED),
    EVALUATED: (AWAITING, APPROVED, CANCELLED),
    AWAITING: (APPROVED, REJECTED, CANCELLED, SUPERSEDED),
    APPROVED: (DEPLOYING, REJECTED, CANCELLED, SUPERSEDED),
    DEPLOYING: (DEPLOYED, FAILED),
}


def check(promotion_id: str, current: str | None, target: str, doing: str) -> None:
    """Raise StateConflict (exit 5) unless *current* → *target* is allowed."""
    allowed = ALLOWED.get(current, ())
    if target not in allowed:
        hint = f"; from {current} it can only become {', '.join(allowed)}" if allowed else f"; {current} is final"
        raise BadTransition(f"cannot {doing} {promotion_id}: it is {current}{hint}")
