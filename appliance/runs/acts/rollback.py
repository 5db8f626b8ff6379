"""``rollback``: every target of the environment back on what it ran before this run's
deployment (or on the release ``to`` names), whole stack; the deployment is marked
``rolled-back``. Safe to do again after a crash (``inspect``): re-applying a lock file
converges to it."""

from __future__ import annotations

from typing import Any

from appliance.deploy import bluegreen_back, records, rollout, targets
from appliance.deploy.outcome import deploy_lock
from appliance.runs.acts.base import Context, Done, Failed, Outcome
from appliance.runs.acts.deploy import latest_deployment


def _previous(ctx: Context, target: str, deployment: str) -> records.Rollout | None:
    to = ctx.settings.get("to", "previous")
    if to == "previous":
        return records.current(ctx.db, target, exclude=deployment)
    for r in ctx.db.execute("SELECT r.deployment_id FROM target_rollouts r JOIN deployments d ON "
                            "d.id = r.deployment_id WHERE r.target = ? AND d.release = ? AND r.state IN "
                            "('deployed', 'rolled-back') ORDER BY r.started_at DESC LIMIT 1", [target, to]):
        return next((x for x in records.of_deployment(ctx.db, r[0]) if x.target == target), None)
    return None


def act(ctx: Context) -> Outcome:
    found = latest_deployment(ctx)
    if found is None:
        return Done({"deployment": None}, "this run deployed nothing: nothing to roll back")
    deployment, state = found
    if state in ("failed", "rolled-back"):
        return Done({"deployment": deployment}, f"deployment {deployment} is {state}: its targets are back already")
    timeout = targets.settings(ctx.db, ctx.run.environment).health_timeout
    facts: list[dict[str, Any]] = []
    with deploy_lock(ctx.home), ctx.log.open("a", encoding="utf-8") as log:
        for t in targets.listing(ctx.db, ctx.run.environment):
            ctx.say(0.5, f"rolling back target {t.name}")
            previous = _previous(ctx, t.name, deployment)
            back = (bluegreen_back.restore(ctx.home, ctx.db, t, previous, timeout)
                    if bluegreen_back.is_blue_green(records.current(ctx.db, t.name))
                    else rollout.restore(ctx.home, t, previous, timeout))
            log.write(f"{t.name}: {back.get('action')} ok={back.get('ok')} {back.get('error') or ''}\n")
            facts.append(back)
    outputs = {"deployment": deployment, "targets": [{k: f.get(k) for k in ("target", "action", "ok", "release")}
                                                     for f in facts]}
    if not all(f.get("ok") for f in facts):
        return Failed("rollback incomplete: " + "; ".join(f"{f['target']}: {f.get('error')}" for f in facts
                                                         if not f.get("ok")), outputs)

    def mark(db: object) -> None:
        ctx.db.execute("UPDATE target_rollouts SET state = 'rolled-back' WHERE deployment_id = ? AND "
                       "state = 'deployed'", [deployment])
        ctx.db.execute("UPDATE deployments SET state = 'rolled-back' WHERE id = ?", [deployment])

    return Done(outputs, f"every target of {ctx.run.environment} is back", mark)
