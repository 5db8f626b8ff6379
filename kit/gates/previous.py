"""Gate 3, previous environment: deployed (and healthy) in the environment before, soaked.

``previous`` names the environment with the next lower order and the release's
deployment there (state, since when, health once deploy reports it). The first
environment has none: the gate is skipped, saying so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from kit.gates.model import FAIL, PASS, SKIPPED, GateResult
from kit.timeutil import format_time, parse_time

NAME = "previous-environment"


def evaluate(inputs: Mapping[str, Any]) -> GateResult:
    prev = inputs["previous"]
    env = inputs["environment"]
    release = inputs["promotion"]["release"]
    label = f"{release.get('name')}@{release.get('version')}"
    if prev["environment"] is None:
        return GateResult(NAME, SKIPPED, f"{env['name']} is the first environment (order {env['order']})", dict(prev))
    dep = prev.get("deployment")
    if not dep or dep.get("state") != "deployed":
        state = dep.get("state") if dep else "never deployed"
        return GateResult(NAME, FAIL, f"{label} is not deployed in {prev['environment']} ({state}); "
                                      f"promote it there first", dict(prev))
    if dep.get("health") not in (None, "healthy"):
        return GateResult(NAME, FAIL, f"{label} is {dep.get('health')} in {prev['environment']}", dict(prev))
    soak = int(env.get("soakSeconds") or 0)
    ready = parse_time(dep["since"]) + dt.timedelta(seconds=soak)
    at = parse_time(inputs["time"]["evaluatedAt"])
    if at < ready:
        return GateResult(NAME, FAIL, f"{label} is soaking in {prev['environment']} until {format_time(ready)} "
                                      f"(soak {soak} s)", {**prev, "readyAt": format_time(ready)})
    return GateResult(NAME, PASS, f"{label} deployed in {prev['environment']} since {dep['since']}"
                                  + (f", soaked {soak} s" if soak else ""), dict(prev))
