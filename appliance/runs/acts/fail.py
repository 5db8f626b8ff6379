"""``fail``: end the step failed with its message (a deliberate stop in a branch)."""

from __future__ import annotations

from appliance.runs.acts.base import Context, Failed, Outcome


def act(ctx: Context) -> Outcome:
    return Failed(str(ctx.settings.get("message") or f"step {ctx.step.id} fails by design"))
