"""``script``: a command in a container from a kit's image (appliance/runs/script.py: no
network, read-only root, limits), judged by its exit code; its output is the step's log.

It runs on the engine of the environment's first target (by name). The container's name
comes from the attempt's idempotency key, so a resumed run re-attaches to the container a
killed appliance left running instead of starting a second one.
"""

from __future__ import annotations

import re

from appliance.deploy import plan, targets
from appliance.runs import script
from appliance.runs.acts.base import Context, Done, Failed, Outcome


def container_name(key: str) -> str:
    return "stella-run-" + re.sub(r"[^a-z0-9_.-]+", "-", key.lower())


def act(ctx: Context) -> Outcome:
    ts = targets.listing(ctx.db, ctx.run.environment)
    if not ts:
        return Failed(f"environment {ctx.run.environment} has no target whose engine could run the script")
    spec = script.spec_from_settings(ctx.settings, ctx.step.timeout)
    ctx.say(0.5, f"running {' '.join(spec.command)[:80]} in {spec.image.split('@')[0]}")
    ctx.log.parent.mkdir(parents=True, exist_ok=True)
    result = script.run(ctx.home, ctx.db, ts[0].docker, container_name(ctx.key), spec, ctx.log,
                        registry=plan.registry_for(ctx.home, ts[0]))
    outputs = {"exitCode": result.exit_code, "timedOut": result.timed_out, "logBytes": result.log_bytes,
               "reattached": result.reattached}
    if result.timed_out:
        return Failed(f"the script was stopped at its time limit ({spec.timeout:g} s)", outputs)
    if result.oom_killed:
        return Failed(f"the script was killed at its memory limit ({spec.memory} bytes)", outputs)
    if result.exit_code != 0:
        return Failed(f"the script exited {result.exit_code}", outputs)
    return Done(outputs, "exit 0")
