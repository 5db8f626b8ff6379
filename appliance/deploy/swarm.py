"""Swarm targets: the lock file deployed as a stack through a Swarm manager's engine.

    pull by digest on the manager → docker stack deploy --resolve-image never --prune
    → wait until every service converged → (the caller) stickers, or the previous lock
    file redeployed as a whole (Swarm rolls back one service at a time only)

Converged means, for every service of the lock file: its spec runs the lock's image, its
update (``UpdateStatus``) is not in progress, paused or rolled back, and as many tasks as
it wants (replicas; every eligible node for a global service) are ``running`` with the
lock's digest. A task with a healthcheck only becomes ``running`` once the check passed
(Swarm waits for ``healthy`` before it reports the task started) and fails when it turns
unhealthy, so the task states carry health. A task of this deployment that failed or was
rejected ends the wait at once, as does a paused or rolled-back update; what is still
starting is waited for up to the environment's health timeout.

The same task view gives drift: per service (spec digest, replicas, update state, a
service the lock does not name) and per task (digest, state, labels, the node it runs on
and whether that node is up).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import docker

from appliance.deploy import engine
from appliance.deploy.compose import ComposeError, ComposeRun
from appliance.deploy.errors import DeployError, EngineDown
from appliance.deploy.job import Job, Result, working_lock, write_working
from appliance.deploy.records import Rollout
from appliance.deploy.targets import Target
from appliance.home import Home
from kit.deploy.drift import Difference, Observed, StickerState, compare
from kit.deploy.lockfile import check_lock
from kit.errors import StellaError

STACK_LABEL = "com.docker.stack.namespace"
POLL_SECONDS = 0.5
FAILED = ("failed", "rejected")
SPEC_DIFFERS = "the service runs"
UPDATE_FAILED = ("paused", "rollback_started", "rollback_paused", "rollback_completed")


def docker_cli() -> str:
    """The docker CLI (``docker stack deploy``); ``STELLA_DOCKER`` may name another.

    Raises:
        ComposeError: none is installed.
    """
    found = os.environ.get("STELLA_DOCKER") or shutil.which("docker")
    if not found:
        raise ComposeError("the docker CLI is not installed (Swarm targets are deployed with docker stack deploy)")
    return found


def _env_file(path: str | None) -> dict[str, str]:
    """KEY=VALUE lines of the target's env file: ``docker stack deploy`` takes ${VAR} values
    from its environment (it has no --env-file)."""
    out: dict[str, str] = {}
    if not path or not Path(path).is_file():
        return out
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.removeprefix("export ").partition("=")
            out[key.strip()] = value.strip().strip("'\"")
    return out


def _stack(t: Target, timeout: int, *args: str) -> ComposeRun:
    env = {**os.environ, **_env_file(t.env_file), "DOCKER_HOST": t.docker}
    env.pop("DOCKER_CONTEXT", None)
    try:
        proc = subprocess.run([docker_cli(), "stack", *args], env=env, capture_output=True, text=True,
                              timeout=timeout + 120)
    except subprocess.TimeoutExpired:
        return ComposeRun(124, "", f"docker stack {args[0]} did not finish in {timeout + 120} s")
    except OSError as exc:
        raise ComposeError(f"cannot run the docker CLI: {exc.strerror}") from None
    return ComposeRun(proc.returncode, proc.stdout, proc.stderr)


def stack_deploy(t: Target, lock: Path, timeout: int) -> ComposeRun:
    """``docker stack deploy --resolve-image never --prune`` of *lock*: the images are pinned
    already (never ask a registry, never fall back to a tag), services the lock does not name go."""
    return _stack(t, timeout, "deploy", "--resolve-image", "never", "--prune", "--compose-file", str(lock),
                  t.project)


def manager_time(c: docker.DockerClient, t: Target) -> str:
    """The manager's clock (``SystemTime``): tasks that failed after it belong to this run.

    Raises:
        EngineDown: the engine is not a Swarm manager (it cannot deploy a stack).
    """
    info = c.info()
    swarm = info.get("Swarm") or {}
    if not swarm.get("ControlAvailable"):
        raise EngineDown(f"target {t.name}: the engine at {t.docker} is not a Swarm manager "
                         f"(swarm state {swarm.get('LocalNodeState') or 'inactive'})")
    return str(info.get("SystemTime", ""))


def _when(stamp: str) -> datetime | None:
    """Docker's RFC 3339 time with nanoseconds, to microseconds."""
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?", stamp or "")
    if not m:
        return None
    frac = (m[2] or "0")[:6].ljust(6, "0")
    zone = "+00:00" if m[3] in (None, "Z") else m[3]
    return datetime.fromisoformat(f"{m[1]}.{frac}{zone}")


@dataclass(frozen=True)
class ServiceState:
    """One service of the stack as the manager reports it."""

    name: str                              # the lock's service name (the stack prefix cut)
    image: str
    labels: dict[str, str]
    replicas: int | None                   # None: global
    update: str | None                     # UpdateStatus.State (None: never updated)
    update_message: str
    tasks: list[dict[str, Any]]            # desired running, newest first


def _task_image(task: dict[str, Any]) -> str:
    return str(((task.get("Spec") or {}).get("ContainerSpec") or {}).get("Image", ""))


def _digest(image: str) -> tuple[str, ...]:
    return (image.split("@", 1)[1],) if "@" in image else ()


Nodes = dict[str, dict[str, Any]]


def look(c: docker.DockerClient, stack: str) -> tuple[list[ServiceState], Nodes, list[dict[str, Any]]]:
    """The stack's services, the nodes (by id), and every task of the stack (all states)."""
    nodes: Nodes = {str(n.id): dict(n.attrs) for n in c.nodes.list()}
    services, every = [], []
    for svc in c.services.list(filters={"label": f"{STACK_LABEL}={stack}"}):
        spec = svc.attrs.get("Spec") or {}
        ctr = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
        mode = spec.get("Mode") or {}
        replicas = (mode.get("Replicated") or {}).get("Replicas") if "Replicated" in mode else None
        status = svc.attrs.get("UpdateStatus") or {}
        tasks: list[dict[str, Any]] = c.api.tasks(filters={"service": svc.id})  # type: ignore[no-untyped-call]
        every += [{**t, "_service": svc.name} for t in tasks]
        running = sorted((t for t in tasks if t.get("DesiredState") == "running"),
                         key=lambda t: str(t.get("CreatedAt", "")), reverse=True)
        services.append(ServiceState(str(spec.get("Name", svc.name)).removeprefix(f"{stack}_"),
                                     str(ctr.get("Image", "")), dict(ctr.get("Labels") or {}),
                                     replicas if isinstance(replicas, int) else None,
                                     status.get("State"), str(status.get("Message", "")), running))
    return sorted(services, key=lambda s: s.name), nodes, every


def _task_name(stack: str, s: ServiceState, t: dict[str, Any]) -> str:
    return f"{stack}_{s.name}.{t.get('Slot') or t.get('NodeID', '')[:12]}"


def _node(nodes: dict[str, dict[str, Any]], node_id: str) -> dict[str, str]:
    n = nodes.get(node_id) or {}
    return {"id": node_id[:12], "hostname": str((n.get("Description") or {}).get("Hostname", "")),
            "addr": str((n.get("Status") or {}).get("Addr", "")), "state": str((n.get("Status") or {}).get("State",
                                                                                                       "unknown"))}


def observed(stack: str, services: list[ServiceState]) -> list[Observed]:
    """Each task that should run, as drift sees a container (health: carried by the state)."""
    out = []
    for s in services:
        for t in s.tasks:
            spec = (t.get("Spec") or {}).get("ContainerSpec") or {}
            out.append(Observed(_task_name(stack, s, t), s.name, str((t.get("Status") or {}).get("State", "unknown")),
                                None, _digest(str(spec.get("Image", ""))), dict(spec.get("Labels") or {})))
    return out


def differences(stack: str, doc: dict[str, Any], lock_hex: str, services: list[ServiceState],
                nodes: dict[str, dict[str, Any]], sticker: StickerState) -> list[Difference]:
    """Per task (kit.deploy.drift's rules on the tasks that should run) and per service:
    spec image, replicas, update state, tasks on a node that is not up."""
    diffs = compare(doc, lock_hex, observed(stack, services), sticker)
    by_name = {s.name: s for s in services}
    # a service with no task is "missing" in compare(); one that exists is judged here
    diffs = [d for d in diffs if not (d.kind == "missing" and d.service in by_name)]
    for name, spec in sorted(doc["services"].items()):
        s = by_name.get(name)
        if s is None:
            continue
        if s.image != spec["image"]:
            diffs.append(Difference(name, "image-digest", f"{SPEC_DIFFERS} {s.image}, the lock pins {spec['image']}"))
        if s.update in UPDATE_FAILED or s.update == "updating":
            diffs.append(Difference(name, "update-state", f"update {s.update}: {s.update_message}"))
        good = [t for t in s.tasks if (t.get("Status") or {}).get("State") == "running"
                and _digest(_task_image(t)) == _digest(str(spec["image"]))]
        wanted = (spec.get("deploy") or {}).get("replicas")        # the lock's count first: a scale by hand drifts
        want = wanted if isinstance(wanted, int) else s.replicas if s.replicas is not None else max(len(s.tasks), 1)
        if len(good) != want:
            diffs.append(Difference(name, "replicas", f"{len(good)} of {want} task(s) running the lock's digest"))
        for t in s.tasks:
            node = _node(nodes, str(t.get("NodeID", "")))
            if t.get("NodeID") and node["state"] != "ready":
                diffs.append(Difference(name, "node", f"{_task_name(stack, s, t)} is on node {node['id']} "
                                        f"({node['addr']}), which is {node['state']}"))
    return diffs


def failed_since(every: list[dict[str, Any]], doc: dict[str, Any], stack: str,
                since: datetime | None) -> list[Difference]:
    """Tasks of the lock's images that failed or were rejected after *since* (the manager's clock)."""
    out = []
    for name, spec in doc["services"].items():
        for t in every:
            status = t.get("Status") or {}
            image = _task_image(t)
            when = _when(str(status.get("Timestamp", "")))
            if (t["_service"] == f"{stack}_{name}" and image == spec["image"] and status.get("State") in FAILED
                    and (since is None or (when is not None and when >= since))):
                why = status.get("Err") or status.get("Message") or status.get("State")
                out.append(Difference(name, "task-failed", f"task {str(t.get('ID', ''))[:12]} on node "
                                      f"{str(t.get('NodeID', ''))[:12]}: {why}"))
    return out


def decisive(services: list[ServiceState], diffs: list[Difference], failed: list[Difference]) -> list[Difference]:
    """What waiting cannot mend: a task of this run that failed, a paused or rolled-back
    update, a missing or extra service, a service spec running another image than the lock
    (``docker stack deploy`` sets the spec before it returns: only a stack nobody deployed
    this lock to, e.g. found by recovery, still has another). Empty: keep waiting (an update
    in progress, tasks starting, old tasks with the old digest and labels still going)."""
    updates = {s.name: s.update for s in services}
    return failed + [d for d in diffs if d.kind in ("missing", "extra")
                     or (d.kind == "update-state" and updates.get(d.service) in UPDATE_FAILED)
                     or (d.kind == "image-digest" and d.detail.startswith(SPEC_DIFFERS))]


def wait_converged(c: docker.DockerClient, t: Target, doc: dict[str, Any], lock_hex: str, timeout: float,
                   since: str) -> tuple[list[ServiceState], dict[str, dict[str, Any]], list[Difference]]:
    """Until every service converged on the lock file, something failed, or *timeout* passes."""
    deadline, start = time.monotonic() + timeout, _when(since)
    mine = StickerState(payload={"lockSha256": lock_hex})
    while True:
        services, nodes, every = look(c, t.project)
        diffs = differences(t.project, doc, lock_hex, services, nodes, mine)
        failed = failed_since(every, doc, t.project, start)
        stop = decisive(services, diffs, failed)
        if stop or not diffs:
            return services, nodes, stop
        if time.monotonic() >= deadline:
            return services, nodes, [Difference(d.service, d.kind, f"{d.detail} after {timeout:g} s (the "
                                                "environment's health timeout)") for d in diffs]
        time.sleep(POLL_SECONDS)


def service_results(stack: str, doc: dict[str, Any], services: list[ServiceState], nodes: dict[str, dict[str, Any]],
                    diffs: list[Difference]) -> list[dict[str, Any]]:
    """Per service: its update state, replicas and each task (node, state, digest)."""
    by_name = {s.name: s for s in services}
    out = []
    for name in sorted(doc["services"]):
        s = by_name.get(name)
        problems = [f"{d.kind}: {d.detail}" for d in diffs if d.service == name]
        tasks: list[dict[str, Any]] = [{"task": _task_name(stack, s, t), "node": _node(nodes, str(t.get("NodeID", ""))),
                  "state": (t.get("Status") or {}).get("State"),
                  "digests": list(_digest(_task_image(t)))}
                 for t in s.tasks] if s else []
        out.append({"service": name, "containers": [x["task"] for x in tasks], "tasks": tasks,
                    "state": "converged" if s and not problems else ("missing" if s is None else "not converged"),
                    "update": s.update if s else None, "replicas": s.replicas if s else None,
                    "digests": sorted({d for x in tasks for d in x["digests"]}), "ok": not problems,
                    "problems": problems})
    out += [{"service": d.service, "ok": False, "problems": [f"{d.kind}: {d.detail}"]} for d in diffs
            if d.kind == "extra"]
    return out


def _deploy_and_wait(c: docker.DockerClient, t: Target, path: Path, doc: dict[str, Any], lock_hex: str,
                     timeout: int) -> tuple[ComposeRun, list[dict[str, Any]], list[Difference], dict[str, int]]:
    since = manager_time(c, t)
    mark = time.monotonic()
    run = stack_deploy(t, path, timeout)
    timings = {"up": int((time.monotonic() - mark) * 1000)}
    mark = time.monotonic()
    if run.ok:
        services, nodes, diffs = wait_converged(c, t, doc, lock_hex, timeout, since)
    else:
        services, nodes, _every = look(c, t.project)
        diffs = differences(t.project, doc, lock_hex, services, nodes, StickerState(payload={"lockSha256": lock_hex}))
    timings["healthy"] = int((time.monotonic() - mark) * 1000)
    return run, service_results(t.project, doc, services, nodes, diffs), diffs, timings


def apply(home: Home, job: Job) -> Result:
    """Pull on the manager (the registry answers; the sticker has an image to mount with),
    ``docker stack deploy`` the lock file, wait until every service converged."""
    t, res = job.target, Result()
    started = time.monotonic()
    try:
        with engine.client(t.docker, f"target {t.name}") as c:
            manager_time(c, t)
            res.pulled = engine.ensure_images(c, job.refs, f"target {t.name}")
            res.timings_ms["pull"] = int((time.monotonic() - started) * 1000)
            path = write_working(home, t.name, job.lock)
            res.touched = True
            run, res.services, diffs, timings = _deploy_and_wait(c, t, path, job.doc, job.lock_hex, job.timeout)
            res.timings_ms.update(timings)
            if not run.ok:
                res.error = f"docker stack deploy failed on target {t.name}: {run.last_error()}"
            elif diffs:
                res.error = f"target {t.name}: " + "; ".join(f"{d.service} {d.kind} ({d.detail})" for d in diffs)
            res.ok = res.error is None
    except (DeployError, StellaError) as exc:
        res.error = exc.message
    res.timings_ms["total"] = int((time.monotonic() - started) * 1000)
    return res


def settled(home: Home, job: Job) -> Result:
    """For the recovery of a deploy whose process died: has the stack converged on the job's
    lock file (waited for within the health timeout)? Nothing is deployed."""
    res = Result(touched=True)
    t = job.target
    try:
        with engine.client(t.docker, f"target {t.name}") as c:
            manager_time(c, t)       # any failed task of the lock's images counts: the run's start is unknown
            services, nodes, diffs = wait_converged(c, t, job.doc, job.lock_hex, job.timeout, "")
            res.services = service_results(t.project, job.doc, services, nodes, diffs)
            res.ok = not diffs
            if diffs:
                res.error = f"target {t.name}: " + "; ".join(f"{d.service} {d.kind} ({d.detail})" for d in diffs)
    except (DeployError, StellaError) as exc:
        res.error = exc.message
    return res


def _wait_removed(c: docker.DockerClient, stack: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not c.services.list(filters={"label": f"{STACK_LABEL}={stack}"}):
            return True
        time.sleep(POLL_SECONDS)
    return False


def restore(home: Home, t: Target, previous: Rollout | None, timeout: int) -> dict[str, Any]:
    """The whole stack back on the previous lock file (every service, not one at a time), or
    ``docker stack rm`` on a first deploy."""
    started = time.monotonic()
    facts: dict[str, Any] = {"target": t.name}
    try:
        with engine.client(t.docker, f"target {t.name}") as c:
            if previous is None:
                run = _stack(t, timeout, "rm", t.project)
                gone = run.ok and _wait_removed(c, t.project, timeout)
                engine.remove_sticker(c, t.project)
                facts.update(action="removed", ok=gone,
                             note="first deploy to this target: nothing to roll back to; the failed stack was "
                                  "removed (docker stack rm)")
                if not run.ok:
                    facts["error"] = run.last_error()
            else:
                lock = previous.lock_text.encode("utf-8")
                doc = check_lock(lock)
                path = write_working(home, t.name, lock)
                run, services, diffs, _timings = _deploy_and_wait(c, t, path, doc, previous.lock_sha256, timeout)
                if previous.sticker:
                    engine.write_sticker(c, t.project, previous.sticker.encode(),
                                         [s["image"] for s in doc["services"].values()])
                facts.update(action="reapplied", release=previous.release, deployment=previous.deployment_id,
                             lockSha256=previous.lock_sha256, ok=run.ok and not diffs, services=services)
                if not run.ok or diffs:
                    facts["error"] = run.last_error() if not run.ok else "; ".join(d.detail for d in diffs)
    except (DeployError, StellaError) as exc:
        facts.update(action="failed", ok=False, error=exc.message)
    facts["ms"] = int((time.monotonic() - started) * 1000)
    return facts


StickerReader = Callable[[docker.DockerClient, Home, str, list[str]], StickerState]


def drift(home: Home, t: Target, cur: Rollout | None,
          sticker: StickerReader) -> tuple[str | None, list[Difference]]:
    """The stack compared with its current rollout: per service and per task, and the sticker
    on the manager read with *sticker* (inspect's). Returns (release, differences); raises
    EngineDown when the manager does not answer."""
    with engine.client(t.docker, f"target {t.name}") as c:
        manager_time(c, t)
        services, nodes, _every = look(c, t.project)
        if cur is None:
            extra = [Difference(s.name, "extra", f"service {t.project}_{s.name} runs but nothing was deployed here")
                     for s in services]
            return None, extra
        doc = check_lock(cur.lock_text.encode())
        state = sticker(c, home, t.project, [str(s["image"]) for s in doc["services"].values()])
        diffs = differences(t.project, doc, cur.lock_sha256, services, nodes, state)
    working = working_lock(home, t.name)
    if not working.is_file() or hashlib.sha256(working.read_bytes()).hexdigest() != cur.lock_sha256:
        diffs.append(Difference("-", "lock-changed", f"the working copy {working} is missing or was edited"))
    return cur.release, sorted(diffs, key=lambda d: (d.service, d.kind, d.detail))

