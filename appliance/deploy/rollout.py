"""One target, one lock file: pull by digest, ``compose up --detach``, wait for health, and going back.

:func:`apply` never leaves a half state behind on its own: its caller decides to roll
back with :func:`restore` (the previous lock file re-applied and waited for, or — on a
first deploy — the stack stopped and removed).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import docker

from appliance.deploy import engine, health
from appliance.deploy.compose import Compose
from appliance.deploy.errors import DeployError

# re-exported (``X as X``): callers use rollout.Job, rollout.Result, rollout.working_lock
from appliance.deploy.job import (
    Job as Job,
    Result as Result,
    service_results as service_results,
    working_lock as working_lock,
    write_working,
)
from appliance.deploy.records import Rollout
from appliance.deploy.targets import Target
from appliance.home import Home
from kit.deploy.drift import Difference, Observed, StickerState, compare
from kit.deploy.lockfile import check_lock
from kit.errors import StellaError

_write_working = write_working      # its old name here (Job, Result and the working copy live in job.py)


def compose_for(t: Target, timeout: int) -> Compose:
    return Compose(t.docker, t.project, Path(t.env_file) if t.env_file else None, timeout=timeout + 120)


def check_services(c: docker.DockerClient, t: Target, doc: dict[str, Any], lock_hex: str,
                   digests: dict[str, tuple[str, ...]] | None = None) -> tuple[list[Observed], list[Difference]]:
    """What runs in the project compared with the parsed lock file *doc*, sticker aside
    (*digests*: image digests already read, kept across the looks of one wait)."""
    seen = engine.observe(c, t.project, digests)
    diffs = compare(doc, lock_hex, seen, StickerState(payload={"lockSha256": lock_hex}))
    return seen, diffs


def wait_healthy(c: docker.DockerClient, t: Target, doc: dict[str, Any], lock_hex: str, timeout: float,
                 wake: health.Wakeups | None = None) -> tuple[list[Observed], list[Difference]]:
    """Until every service runs (and is healthy where it has a healthcheck), something fails
    for good, or *timeout* seconds pass (then what is still starting is the difference)."""
    digests: dict[str, tuple[str, ...]] = {}
    seen, diffs, late = health.wait(lambda: check_services(c, t, doc, lock_hex, digests), timeout, wake)
    if late:
        diffs = [Difference(d.service, d.kind, f"{d.detail} after {timeout:g} s (the environment's health "
                            "timeout)") for d in diffs]
    return seen, diffs


def apply(home: Home, job: Job) -> Result:
    """Pull, ``up --detach``, wait for health within the environment's timeout, read back digests."""
    if job.target.kind == "swarm":
        from appliance.deploy import swarm  # imports this module
        return swarm.apply(home, job)
    if job.target.kind == "agents":         # every host through its agent's tasks
        from appliance.deploy import agenthost
        return agenthost.apply(home, job)
    t, res = job.target, Result()
    started = time.monotonic()
    try:
        with engine.client(t.docker, f"target {t.name}") as c:
            res.pulled = engine.ensure_images(c, job.refs, f"target {t.name}")
            res.timings_ms["pull"] = int((time.monotonic() - started) * 1000)
            path = _write_working(home, t.name, job.lock)
            res.touched = True
            mark = time.monotonic()
            with health.watching(c, t.project) as wake:
                run = compose_for(t, job.timeout).up(path)
                res.timings_ms["up"] = int((time.monotonic() - mark) * 1000)
                mark = time.monotonic()
                if run.ok:
                    seen, diffs = wait_healthy(c, t, job.doc, job.lock_hex, job.timeout, wake)
                else:
                    seen, diffs = check_services(c, t, job.doc, job.lock_hex)
            res.timings_ms["healthy"] = int((time.monotonic() - mark) * 1000)
            res.services = service_results(job.doc, seen, diffs)
            res.config_hashes = {o.service: o.labels.get("com.docker.compose.config-hash", "") for o in seen}
            if not run.ok:
                res.error = f"docker compose up failed on target {t.name}: {run.last_error()}"
            elif diffs:
                res.error = f"target {t.name}: " + "; ".join(f"{d.service} {d.kind} ({d.detail})" for d in diffs)
            res.ok = res.error is None
    except (DeployError, StellaError) as exc:
        res.error = exc.message
    res.timings_ms["total"] = int((time.monotonic() - started) * 1000)
    return res


def restore(home: Home, t: Target, previous: Rollout | None, timeout: int,
            deployment: str | None = None) -> dict[str, Any]:
    """Put the target back: the previous lock file (and its sticker), or nothing at all
    (*deployment*: the one being undone; an agent target needs it to find the hosts it touched)."""
    if t.kind == "agents" and deployment is not None:
        from appliance.deploy import agenthost
        return agenthost.restore(home, t, deployment, previous, timeout)
    if t.kind == "swarm":
        from appliance.deploy import swarm
        return swarm.restore(home, t, previous, timeout)
    started = time.monotonic()
    facts: dict[str, Any] = {"target": t.name}
    try:
        with engine.client(t.docker, f"target {t.name}") as c:
            if previous is None:
                run = compose_for(t, timeout).down()
                engine.remove_sticker(c, t.project)
                left = engine.observe(c, t.project)
                facts.update(action="removed", ok=run.ok and not left,
                             note="first deploy to this target: nothing to roll back to; the failed stack was "
                                  "stopped and removed")
                if not run.ok:
                    facts["error"] = run.last_error()
            else:
                lock = previous.lock_text.encode("utf-8")
                doc = check_lock(lock)
                with health.watching(c, t.project) as wake:
                    run = compose_for(t, timeout).up(_write_working(home, t.name, lock))
                    seen, diffs = (wait_healthy(c, t, doc, previous.lock_sha256, timeout, wake) if run.ok
                                   else check_services(c, t, doc, previous.lock_sha256))
                if previous.sticker:
                    engine.write_sticker(c, t.project, previous.sticker.encode(),
                                         [s["image"] for s in doc["services"].values()])
                facts.update(action="reapplied", release=previous.release, deployment=previous.deployment_id,
                             lockSha256=previous.lock_sha256, ok=run.ok and not diffs,
                             services=service_results(doc, seen, diffs))
                if not run.ok or diffs:
                    facts["error"] = run.last_error() if not run.ok else "; ".join(d.detail for d in diffs)
    except (DeployError, StellaError) as exc:
        facts.update(action="failed", ok=False, error=exc.message)
    facts["ms"] = int((time.monotonic() - started) * 1000)
    return facts
