"""``script``: a command in a container from a kit's image (appliance/runs/script.py: no
network, read-only root, limits), judged by its exit code; its output is the step's log.

It runs on the engine of the environment's first target (by name). The container's name
comes from the attempt's idempotency key, so a resumed run re-attaches to the container a
killed appliance left running instead of starting a second one. Outputs the step declares
(``outputs: [pending]``) are read from ``::output NAME=VALUE`` lines the script printed.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from appliance.deploy import plan, targets
from appliance.runs import script
from appliance.runs.acts.base import Context, Done, Failed, Outcome

OUTPUT = re.compile(rb"^::output ([A-Za-z_][A-Za-z0-9_]{0,63})=(.{0,1024})$")


def declared_outputs(log: Path, names: tuple[str, ...]) -> dict[str, str | int]:
    """The step's declared outputs the script printed as ``::output NAME=VALUE`` lines (in the
    log as kept; the last line for a name wins; whole numbers become numbers)."""
    found: dict[str, str | int] = {}
    if not names:
        return found
    with log.open("rb") as f:
        for line in f:
            m = OUTPUT.match(line.rstrip(b"\r\n"))
            if m and m.group(1).decode() in names:
                value = m.group(2).decode("utf-8", "replace")
                found[m.group(1).decode()] = int(value) if value.isdigit() and len(value) < 16 else value
    return found


def container_name(home: Path, key: str) -> str:
    """The attempt's container: its key, and which appliance (two homes sharing an engine —
    or two sites' tests — never meet on a name)."""
    appliance = hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:10]
    return f"stella-run-{appliance}-" + re.sub(r"[^a-z0-9_.-]+", "-", key.lower())


def act(ctx: Context) -> Outcome:
    ts = targets.listing(ctx.db, ctx.run.environment)
    if not ts:
        return Failed(f"environment {ctx.run.environment} has no target whose engine could run the script")
    spec = script.spec_from_settings(ctx.settings, ctx.step.timeout)
    ctx.say(0.5, f"running {' '.join(spec.command)[:80]} in {spec.image.split('@')[0]}")
    ctx.log.parent.mkdir(parents=True, exist_ok=True)
    result = script.run(ctx.home, ctx.db, ts[0].docker, container_name(ctx.home.root, ctx.key), spec, ctx.log,
                        registry=plan.registry_for(ctx.home, ts[0]))
    outputs: dict[str, object] = {"exitCode": result.exit_code, "timedOut": result.timed_out,
                                  "logBytes": result.log_bytes, "reattached": result.reattached,
                                  **declared_outputs(ctx.log, ctx.step.outputs)}
    if result.timed_out:
        return Failed(f"the script was stopped at its time limit ({spec.timeout:g} s)", outputs)
    if result.oom_killed:
        return Failed(f"the script was killed at its memory limit ({spec.memory} bytes)", outputs)
    if result.exit_code != 0:
        return Failed(f"the script exited {result.exit_code}", outputs)
    return Done(outputs, "exit 0")
