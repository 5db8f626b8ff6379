"""``deploy``: the run's deployment — by a deployer, with the step's rollout strategy.

The deployment itself is today's (appliance/deploy: preflight, gates re-checked with the
deployer known, health-gated rollout, whole-stack rollback, stickers, evidence packets);
its ``deployments`` row is the effect this step records, so the step's outcome is read
from that row: deployed → succeeded, failed → failed, still ``deploying`` with nobody
holding the deploy lock → the process died: recovery inspects what the engines run and
finishes or rolls it back first (the ``inspect`` resume rule).

Who deploys: the deployer acting now — ``stella deploy P-…`` advances the run as that user,
auto-deploy as the environment's deploy identity (appliance/deploy/auto.py, after the
approval that made the promotion approved). Otherwise the step waits for one.
"""

from __future__ import annotations

from typing import Any

from appliance import users
from appliance.deploy import recovery
from appliance.deploy.outcome import Report
from appliance.runs.acts.base import Context, Done, Failed, Outcome, Waiting


def latest_deployment(ctx: Context) -> tuple[str, str] | None:
    """(id, state) of the run's promotion's latest deployment, if it has one."""
    row = ctx.db.execute("SELECT id, state FROM deployments WHERE promotion_id = ? ORDER BY started_at DESC, "
                         "id DESC LIMIT 1", [ctx.run.promotion_id]).fetchone()
    return (str(row[0]), str(row[1])) if row else None


def act(ctx: Context) -> Outcome:
    found = latest_deployment(ctx)
    if found is not None and found[1] == "deploying":
        recovery.recover_if_idle(ctx.home, ctx.db, ctx.actor)
        found = latest_deployment(ctx)
        if found is not None and found[1] == "deploying":
            return Waiting(f"deployment {found[0]} is running")
    if found is not None:
        return _ended(ctx, *found)
    deployer = ctx.deployer
    if deployer is None:
        return Waiting(f"waiting for a deployer: stella deploy {ctx.run.promotion_id} --as DEPLOYER")
    report = deploy(ctx, deployer)
    ctx.sink["report"] = report
    return _ended(ctx, report.deployment, "deployed" if report.ok else "failed")


def deploy(ctx: Context, deployer: users.User) -> Report:
    """Run the deployment as *deployer* with the step's strategy (raises, nothing changed,
    when it is refused before it starts)."""
    settings = ctx.settings
    trigger: dict[str, Any] = dict(ctx.sink.get("trigger") or {})
    trigger["run"] = ctx.run.id
    kind = settings.get("strategy", "all-at-once")
    if kind == "blue-green":
        from appliance.deploy import bluegreen
        from appliance.runs.acts.health import probe_for
        return bluegreen.deploy(ctx.home, ctx.db, ctx.run.promotion_id, deployer, probe=probe_for(settings),
                                trigger=trigger, progress=ctx.progress)
    from appliance.deploy import run, strategy
    if kind == "all-at-once" and "health" not in settings:       # today's deploy, exactly
        return run.deploy(ctx.home, ctx.db, ctx.run.promotion_id, deployer, trigger=trigger, progress=ctx.progress)
    return run.deploy(ctx.home, ctx.db, ctx.run.promotion_id, deployer, trigger=trigger, progress=ctx.progress,
                      strategy=strategy.from_settings(settings))


def _ended(ctx: Context, deployment: str, state: str) -> Outcome:
    changed = [r[0] for r in ctx.db.execute("SELECT target FROM target_rollouts WHERE deployment_id = ? ORDER BY "
                                            "target", [deployment])]
    outputs = {"deployment": deployment, "changed": changed}
    if state == "deployed":
        return Done(outputs, f"deployment {deployment} deployed")
    return Failed(f"deployment {deployment} {state}", outputs)
