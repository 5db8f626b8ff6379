"""Agent targets (docs/deploy.md "Agent targets"): a target of kind ``agents`` is every agent
carrying its labels, each agent one host of the environment, reached only through leased tasks
(appliance.agents.tasks; the agent dials out, the appliance never dials a host).

    preflight  every selected agent ready (agent-down otherwise), before anything changes
    apply      a ``deploy`` task per host (lock file, registry, env file), waited for, then the
               containers it reports compared with the lock file as for a local target
    restore    a ``rollback`` task (the previous lock file) and its sticker on every host this
               deployment touched; a host whose agent is gone is reported, not waited for
    stickers   ``sticker-write`` per host; drift: ``inspect`` + ``sticker-read`` per host

Which hosts a deployment touched is read back from the task table: every task's idempotency
key is derived from (deployment, target, host, what), so a rollback, a resumed deployment or a
retried call finds the same task instead of making a second one.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import sqlite_utils

from appliance import keys
from appliance.agents import service as agents, tasks, timing
from appliance.deploy import job as rollout  # Job, Result, service_results (below rollout, run and inspect)
from appliance.deploy.errors import EngineDown, ProbeNotSupported
from appliance.deploy.records import Rollout
from appliance.deploy.targets import Target
from appliance.errors import AgentDown
from appliance.home import Home
from appliance.registry import config as registry_config
from appliance.store.db import open_db
from kit.deploy.drift import Difference, Observed, StickerState, compare
from kit.deploy.lockfile import check_lock
from kit.deploy.sticker import read_sticker
from kit.errors import StellaError
from kit.timeutil import format_time, now

SLACK = 60.0        # seconds a deploy task may take beyond the health timeout: pulls, compose itself


@contextmanager
def _db(home: Home) -> Iterator[sqlite_utils.Database]:
    db = open_db(home.db_path)
    try:
        yield db
    finally:
        db.close()


def key(deployment: str, target: str, host: str, what: str) -> str:
    """The idempotency key of one task of a deployment (8-64 of [A-Za-z0-9_-])."""
    digest = hashlib.sha256(f"{deployment}\0{target}\0{host}\0{what}".encode()).hexdigest()[:40]
    return f"{what.replace('-', '')[:12]}-{digest}"


def selected(db: sqlite_utils.Database, t: Target) -> list[agents.AgentInfo]:
    """Every agent the target's labels select, whatever its state, except revoked ones (by name)."""
    want = t.labels
    found = [agents.get(db, r[0]) for r in db.execute("SELECT name FROM agents WHERE revoked_at IS NULL ORDER BY name")]
    return [a for a in found if all(a.labels.get(k) == v for k, v in want.items())]


def describe(db: sqlite_utils.Database, t: Target) -> list[dict[str, Any]]:
    """The agents the target selects now: name, state, last heartbeat (``stella target show``)."""
    moment = now()
    return [{"agent": a.name, "state": a.state(moment), "lastHeartbeat": a.last_seen} for a in selected(db, t)]


def preflight(db: sqlite_utils.Database, t: Target) -> list[str]:
    """The hosts of *t*, each ready. Raises AgentDown (nothing changed yet): a selected agent is
    down or never heard from, or the labels select no agent at all."""
    found = selected(db, t)
    if not found:
        raise AgentDown(f"target {t.name} selects no agent: none carries {t.docker.removeprefix('agents:')} "
                        "(stella agent list)")
    for a in found:
        try:
            agents.require_ready(db, a.name)
        except AgentDown as exc:
            raise AgentDown(f"target {t.name}: {exc.message}") from None
    return [a.name for a in found]


def _deployment(job: rollout.Job) -> str:
    return str(job.doc["x-stella"]["deployment"])


def _run(db: sqlite_utils.Database, host: str, kind: str, payload: dict[str, Any], task_key: str, timeout: float,
         *, repeatable: bool) -> tasks.Result:
    """Enqueue (or find, by key) one task and wait for it. A task still queued when the wait
    runs out is cancelled, so a host that comes back later does not run a stale deploy."""
    task_id = tasks.enqueue(db, host, kind, payload, task_key, repeatable=repeatable)
    try:
        return tasks.wait(db, task_id, timeout)
    except StellaError:
        db.execute("UPDATE agent_tasks SET state = 'expired', detail = ?, finished = ? "
                   "WHERE id = ? AND state = 'queued'",
                   [f"cancelled: not picked up within {timeout:g}s", format_time(now()), task_id])
        db.conn.commit()
        raise


def _observed(facts: dict[str, Any] | None) -> list[Observed]:
    out = []
    for c in (facts or {}).get("containers") or []:
        out.append(Observed(str(c.get("name", "")), str(c.get("service", "")), str(c.get("state", "unknown")),
                            c.get("health"), tuple(c.get("digests") or ()), dict(c.get("labels") or {})))
    return out


def _payload(home: Home, t: Target, lock: bytes, timeout: int) -> dict[str, Any]:
    payload: dict[str, Any] = {"project": t.project, "lock": lock.decode("utf-8"),
                               "registry": t.registry or registry_config.load(home).addr, "timeout": timeout}
    if t.env_file:
        payload["envFile"] = t.env_file
    return payload


def _deploy_host(home: Home, db: sqlite_utils.Database, job: rollout.Job, host: str) -> dict[str, Any]:
    t, started = job.target, time.monotonic()
    entry: dict[str, Any] = {"agent": host, "ok": False}
    try:
        r = _run(db, host, "deploy", _payload(home, t, job.lock, job.timeout),
                 key(_deployment(job), t.name, host, "deploy"), job.timeout + timing.lease().total_seconds() + SLACK,
                 repeatable=False)
    except StellaError as exc:
        entry.update(error=f"target {t.name}: host {host}: {exc.message}", ms=int((time.monotonic() - started) * 1000))
        return entry
    seen = _observed(r.facts)
    diffs = compare(job.doc, job.lock_hex, seen, StickerState(payload={"lockSha256": job.lock_hex}))
    services = rollout.service_results(job.doc, seen, diffs)
    entry.update(task=r.task_id, state=r.state, detail=r.detail, services=services,
                 configHashes={o.service: o.labels.get("com.docker.compose.config-hash", "") for o in seen},
                 ms=int((time.monotonic() - started) * 1000))
    if r.state == "expired":
        entry["error"] = (f"target {t.name}: host {host}: the deploy task's lease ended without a result "
                          f"({r.detail}); the agent stopped mid-deploy")
    elif r.state != "succeeded":
        entry["error"] = f"target {t.name}: host {host}: {r.detail}"
    elif diffs:
        entry["error"] = f"target {t.name}: host {host}: " + "; ".join(
            f"{d.service} {d.kind} ({d.detail})" for d in diffs)
    entry["ok"] = "error" not in entry
    return entry


def apply(home: Home, job: rollout.Job) -> rollout.Result:
    """Deploy *job* to every ready host of its target in name order, stopping at the first failure
    (the caller then restores every host touched, as for local targets)."""
    res, started = rollout.Result(), time.monotonic()
    with _db(home) as db:
        try:
            hosts = preflight(db, job.target)
        except StellaError as exc:
            res.error = exc.message
            return res
        res.hosts = []
        for host in hosts:
            res.touched = True          # once queued the agent may act on it: restore looks at every host
            entry = _deploy_host(home, db, job, host)
            res.hosts.append(entry)
            res.services += [{**s, "host": host} for s in entry.get("services", [])]
            if not entry["ok"]:
                res.error = entry["error"]
                break
    if res.hosts and res.error is None:
        res.config_hashes = dict(res.hosts[0].get("configHashes") or {})
    res.ok = res.error is None
    res.timings_ms["total"] = int((time.monotonic() - started) * 1000)
    return res


def _touched(db: sqlite_utils.Database, deployment: str, t: Target, previous: Rollout | None) -> list[str]:
    """The hosts a deploy task of *deployment* was queued for (the selection may have changed since)."""
    names = {a.name for a in selected(db, t)}
    names |= {str(h.get("agent")) for h in (previous.detail.get("hosts") or [])} if previous else set()
    keys = {key(deployment, t.name, n, "deploy"): n for n in names}
    marks = ", ".join("?" for _ in keys) or "''"
    rows = db.execute(f"SELECT key FROM agent_tasks WHERE key IN ({marks})", list(keys)).fetchall()
    return sorted(keys[r[0]] for r in rows)


def restore(home: Home, t: Target, deployment: str, previous: Rollout | None, timeout: int) -> dict[str, Any]:
    """Every host *deployment* touched back on the previous lock file (and its sticker), with a
    ``rollback`` task each; per host what happened under ``hosts``."""
    started = time.monotonic()
    facts: dict[str, Any] = {"target": t.name}
    out: list[dict[str, Any]] = []
    with _db(home) as db:
        for host in _touched(db, deployment, t, previous):
            out.append(_restore_host(home, db, t, deployment, host, previous, timeout))
    if previous is None:
        facts.update(action="removed", ok=all(h["ok"] for h in out),
                     note="first deploy to this target: nothing to roll back to; the failed stack was stopped and "
                          "removed on each host")
        errors = [h["error"] for h in out if h.get("error")]
        if errors:
            facts["error"] = "; ".join(errors)
    else:
        facts.update(action="reapplied", release=previous.release, deployment=previous.deployment_id,
                     lockSha256=previous.lock_sha256, ok=all(h["ok"] for h in out),
                     services=[{**s, "host": h["agent"]} for h in out for s in h.get("services", [])])
        errors = [h["error"] for h in out if h.get("error")]
        if errors:
            facts["error"] = "; ".join(errors)
    facts["hosts"] = out
    facts["ms"] = int((time.monotonic() - started) * 1000)
    return facts


def _restore_host(home: Home, db: sqlite_utils.Database, t: Target, deployment: str, host: str,
                  previous: Rollout | None, timeout: int) -> dict[str, Any]:
    entry: dict[str, Any] = {"agent": host, "ok": False}
    deployed = tasks.get(db, db.execute("SELECT id FROM agent_tasks WHERE key = ?",
                                        [key(deployment, t.name, host, "deploy")]).fetchone()[0])
    if deployed.state == "expired":
        entry["lease"] = deployed.detail
    try:
        agents.require_ready(db, host)
    except AgentDown as exc:
        entry.update(action="unreachable", error=f"host {host} not rolled back: {exc.message}")
        return entry
    before = {str(h.get("agent")) for h in previous.detail.get("hosts") or []} if previous else set()
    if previous is None or host not in before:     # a first deploy here (a new host too): the failed stack removed
        try:
            r = _run(db, host, "remove", {"project": t.project, "timeout": timeout},
                     key(deployment, t.name, host, "remove"), timeout + timing.lease().total_seconds() + SLACK,
                     repeatable=True)
        except StellaError as exc:
            entry.update(action="failed", error=f"host {host}: {exc.message}")
            return entry
        entry.update(action="removed", task=r.task_id, state=r.state, ok=r.state == "succeeded")
        if not entry["ok"]:
            entry["error"] = f"host {host}: {r.detail}"
        return entry
    lock = previous.lock_text.encode("utf-8")
    doc = check_lock(lock)
    try:
        r = _run(db, host, "rollback", _payload(home, t, lock, timeout), key(deployment, t.name, host, "rollback"),
                 timeout + timing.lease().total_seconds() + SLACK, repeatable=False)
        if previous.sticker and r.state == "succeeded":
            _sticker_write(db, t, host, previous.sticker, key(deployment, t.name, host, "sticker-back"))
    except StellaError as exc:
        entry.update(action="failed", error=f"host {host}: {exc.message}")
        return entry
    seen = _observed(r.facts)
    diffs = compare(doc, previous.lock_sha256, seen, StickerState(payload={"lockSha256": previous.lock_sha256}))
    entry.update(action="reapplied", task=r.task_id, state=r.state, services=rollout.service_results(doc, seen, diffs),
                 ok=r.state == "succeeded" and not diffs)
    if not entry["ok"]:
        entry["error"] = f"host {host}: " + (r.detail or "") + "; ".join(d.detail for d in diffs)
    return entry


def _sticker_write(db: sqlite_utils.Database, t: Target, host: str, sticker: str, task_key: str) -> None:
    r = _run(db, host, "sticker-write", {"project": t.project, "sticker": sticker}, task_key,
             timing.lease().total_seconds() + SLACK, repeatable=True)
    if r.state != "succeeded":
        raise AgentDown(f"host {host}: the sticker was not written: {r.detail}")


def queue_stickers(home: Home, job: rollout.Job, hosts: list[str], sticker: bytes) -> list[str]:
    """The signed sticker's ``sticker-write`` task queued for every host of the target (after every
    target was healthy); the task ids, for :func:`wait_stickers`."""
    with _db(home) as db:
        return [tasks.enqueue(db, host, "sticker-write", {"project": job.target.project,
                                                          "sticker": sticker.decode("utf-8")},
                              key(_deployment(job), job.target.name, host, "sticker"), repeatable=True)
                for host in hosts]


def wait_stickers(home: Home, task_ids: list[str]) -> None:
    """Every sticker written. Raises AgentDown (a task failed) or AgentTaskTimeout."""
    with _db(home) as db:
        for task_id in task_ids:
            r = tasks.wait(db, task_id, timing.lease().total_seconds() + SLACK)
            if r.state != "succeeded":
                raise AgentDown(f"host {r.agent}: the sticker was not written: {r.detail}")


def hosts_of(res: rollout.Result) -> list[str]:
    return [str(h["agent"]) for h in res.hosts or []]


def _read(db: sqlite_utils.Database, host: str, kind: str, project: str) -> tasks.Result:
    # reads are repeatable and never shared: a fresh key each time
    r = _run(db, host, kind, {"project": project}, key(format_time(now()), project, host, kind + str(time.time_ns())),
             timing.lease().total_seconds() + SLACK, repeatable=True)
    if r.state != "succeeded":
        raise AgentDown(f"host {host}: {kind}: {r.detail}")
    return r


def observe(db: sqlite_utils.Database, t: Target, host: str) -> tuple[list[Observed], str | None]:
    """What runs in the target's project on *host* and the sticker's text there (or None).
    Raises AgentDown: the host's agent is down or a read failed."""
    agents.require_ready(db, host)
    seen = _observed(_read(db, host, "inspect", t.project).facts)
    sticker = (_read(db, host, "sticker-read", t.project).facts or {}).get("sticker")
    return seen, sticker if isinstance(sticker, str) else None


def _sticker_state(home: Home, text: str | None, project: str, host: str) -> StickerState:
    if text is None:
        return StickerState(missing=True, problem=f"no stella-sticker-{project} volume or no sticker in it")
    try:
        return StickerState(payload=read_sticker(text.encode("utf-8"), keys.public(home)))
    except StellaError as exc:
        return StickerState(problem=f"the sticker does not verify: {exc.message}")


def drift(home: Home, db: sqlite_utils.Database, t: Target,
          current: Rollout | None) -> tuple[str | None, list[Difference]]:
    """Every host of an agent target compared with its current rollout: (the release, every
    difference, each naming its host). Raises EngineDown: a host's agent is down (drift cannot
    see that host)."""
    diffs: list[Difference] = []
    lock = check_lock(current.lock_text.encode()) if current else None
    hashes = {str(h.get("agent")): h.get("configHashes") for h in (current.detail.get("hosts") or [])} \
        if current else {}
    for host in drift_hosts(db, t, current):
        try:
            seen, text = observe(db, t, host)
        except AgentDown as exc:
            raise EngineDown(f"target {t.name}: {exc.message}") from None
        if current is None or lock is None:
            diffs += [Difference(o.service or o.name, "extra", f"host {host}: {o.name} runs but nothing was "
                                 "deployed here") for o in seen]
            continue
        found = compare(lock, current.lock_sha256, seen, _sticker_state(home, text, t.project, host),
                        hashes.get(host))
        diffs += prefixed(host, found)
    return (current.release if current else None), diffs


def drift_hosts(db: sqlite_utils.Database, t: Target, current: Rollout | None) -> list[str]:
    """The hosts drift compares: those the target selects now and those of its current rollout."""
    names = {a.name for a in selected(db, t)}
    if current is not None:
        names |= {str(h.get("agent")) for h in current.detail.get("hosts") or []}
    return sorted(names)


def prefixed(host: str, diffs: list[Difference]) -> list[Difference]:
    return [Difference(d.service, d.kind, f"host {host}: {d.detail}") for d in diffs]


def settled(home: Home, job: rollout.Job) -> rollout.Result:
    """A deployment whose appliance process died (recovery.py): each host's deploy task waited
    for (it may still be running), then what runs there compared with the lock file."""
    res = rollout.Result(touched=True, hosts=[])
    assert res.hosts is not None
    with _db(home) as db:
        for host in _touched(db, _deployment(job), job.target, None):
            entry = _deploy_host(home, db, job, host)       # the same key: waits for the task queued before
            res.hosts.append(entry)
            res.services += [{**s, "host": host} for s in entry.get("services", [])]
            if not entry["ok"] and res.error is None:
                res.error = entry["error"]
    res.ok = res.error is None and bool(res.hosts)
    if not res.hosts:
        res.error = f"target {job.target.name}: no host got the deploy"
    return res


def refuse_probe(names: list[str]) -> NoReturn:
    """A deploy step's ``health`` probe dials a target's engine host from the appliance, and an
    agent target's hosts are not dialled (they may not even be reachable): refused before anything
    changes rather than probing the appliance's own loopback. Raises ProbeNotSupported."""
    raise ProbeNotSupported(f"the deploy step's health probe cannot run on agent target(s) {', '.join(names)}: "
                            "the appliance does not dial an agent's host (drop the step's health: the agent "
                            "already waits for every container's health check)")
