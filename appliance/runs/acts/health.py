"""``health``: probe every selected target (HTTP or TCP, appliance/runs/probe.py) until it
passes, fails or the deadline ends; the step fails when any target's probe fails."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from appliance.deploy import targets
from appliance.deploy.targets import Target
from appliance.runs import probe
from appliance.runs.acts.base import Context, Done, Failed, Outcome


def selected(ctx: Context) -> list[Target]:
    """The environment's targets (a `targets.environment` other than the run's selects nothing)."""
    chosen = ctx.settings.get("targets") or {}
    if chosen.get("environment", ctx.run.environment) != ctx.run.environment:
        return []
    return targets.listing(ctx.db, ctx.run.environment)


def probe_for(settings: Mapping[str, Any]) -> Callable[[Target], str | None] | None:
    """The deploy step's ``health`` setting as a per-target check (None: healthy, else why)."""
    given = settings.get("health")
    if not isinstance(given, Mapping):
        return None
    spec = probe.spec_from_settings(given)

    def check(t: Target) -> str | None:
        result = probe.probe(probe.host_of(t), spec)
        return None if result.ok else (result.error or f"probe failed with status {result.status}")
    return check


def act(ctx: Context) -> Outcome:
    spec = probe.spec_from_settings(ctx.settings)
    chosen = selected(ctx)
    if not chosen:
        return Failed(f"no target to probe: environment {ctx.run.environment} has none"
                      + ("" if (ctx.settings.get("targets") or {}).get("environment", ctx.run.environment)
                         == ctx.run.environment else " (a health step probes its run's environment only)"),
                      {"status": None, "body": "", "targets": {}})
    results: dict[str, Any] = {}
    last: probe.ProbeResult | None = None
    with ctx.log.open("a", encoding="utf-8") as log:
        for t in chosen:
            ctx.say(0.5, f"probing {spec.kind} port {spec.port} on target {t.name}")
            last = probe.probe(probe.host_of(t), spec)
            results[t.name] = last.to_dict()
            log.write(f"{t.name}: ok={last.ok} status={last.status} attempts={last.attempts} "
                      f"{last.error or ''}\n")
    outputs = {"status": last.status if last else None, "body": (last.body[:1024] if last else ""),
               "targets": results}
    failed = [f"{name}: {r['error'] or 'failed'}" for name, r in results.items() if not r["ok"]]
    if failed:
        return Failed("; ".join(failed), outputs)
    return Done(outputs, f"{len(results)} target(s) healthy")
