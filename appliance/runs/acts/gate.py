"""``gate``: the promotion gates (all three, or those named), or a named policy pack.

The first gate step of a run whose promotion was just evaluated at its request adopts that
decision (the default template records no second decision for the same moment); any other
evaluates now and stores its decision record with the step's end (one transaction).
"""

from __future__ import annotations

from appliance.promotions import service, store as pstore
from appliance.promotions.errors import NoPolicyPack
from appliance.runs.acts.base import Context, Done, Failed, Outcome
from kit.gates.approvals import NAME as APPROVALS
from kit.timeutil import format_time
from kit.workflow.steps.gate import GATES


def act(ctx: Context) -> Outcome:
    wanted = tuple(ctx.settings.get("gates") or GATES)
    pack = ctx.settings.get("pack")
    p = pstore.get(ctx.db, ctx.run.promotion_id)
    adopted = _adopt(ctx) if set(wanted) == set(GATES) and not pack else None
    if adopted is not None:
        return Done({"verdict": "pass", "decision": adopted, "blocking": []}, "the decision made at the request",
                    replay={"kind": "gates", "decision": adopted, "gates": list(wanted)})
    try:
        decision, docs = service.evaluate(ctx.home, ctx.db, p, ctx.now, pack=pack)
    except NoPolicyPack as exc:
        return Failed(exc.message, {"verdict": "fail", "decision": None, "blocking": []})
    blocking = [g for g in decision.gates if g.blocks and g.name in wanted and g.name != APPROVALS]
    digest = decision.digest()
    outputs = {"verdict": "fail" if blocking else "pass", "decision": digest, "blocking": [g.name for g in blocking]}

    def record(db: object) -> None:
        pstore.save_decision(ctx.db, decision, docs, promotion_id=p.id, purpose="gate", actor=ctx.actor,
                             at=format_time(ctx.now))

    replay = {"kind": "gates", "decision": digest, "gates": list(wanted)}
    if blocking:
        return Failed("; ".join(f"{g.name}: {g.reason}" for g in blocking), outputs, record, replay)
    return Done(outputs, f"{', '.join(wanted)}: pass", record, replay)


def _adopt(ctx: Context) -> str | None:
    """The promotion's request-time decision, when no gate step of this run used it yet."""
    row = ctx.db.execute("SELECT digest FROM decision_records WHERE promotion_id = ? AND purpose = 'promote' "
                         "ORDER BY created_at, rowid LIMIT 1", [ctx.run.promotion_id]).fetchone()
    if row is None:
        return None
    used = ctx.db.execute("SELECT 1 FROM run_steps WHERE run_id = ? AND json_extract(outputs, '$.decision') = ?",
                          [ctx.run.id, row[0]]).fetchone()
    return None if used else str(row[0])
