"""``wait``: a soak — done once its duration has passed since the attempt started (a
resumed run keeps the original start: the soak is not restarted by a crash)."""

from __future__ import annotations

import datetime as dt

from appliance.runs.acts.base import Context, Done, Outcome, Waiting
from kit.gates.freeze import parse_duration
from kit.timeutil import format_time


def act(ctx: Context) -> Outcome:
    until = ctx.started_at + dt.timedelta(seconds=parse_duration(str(ctx.settings["duration"])))
    if ctx.now >= until:
        return Done({}, f"waited {ctx.settings['duration']}")
    ctx.say(0.5, f"soaking until {format_time(until)}")
    return Waiting(f"soaking until {format_time(until)}", until)
