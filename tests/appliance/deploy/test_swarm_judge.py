"""The Swarm wait's and drift's rules on the manager's answers as data (no engine): what is
waited for, what ends the wait, and the per-service/per-task kinds the real Swarm test does
not provoke (a node that is down, an update paused). test_swarm.py runs the same code on a
real three-node Swarm."""

from __future__ import annotations

from typing import Any

from appliance.deploy.swarm import ServiceState, _when, decisive, differences, failed_since
from kit.deploy.drift import StickerState

V1 = "sha256:" + "1" * 64
V2 = "sha256:" + "2" * 64
IMAGE = "10.77.0.254:5000/shop/web@"
LABELS = {"stella.digest": V2}
DOC = {"services": {"web": {"image": IMAGE + V2, "labels": LABELS, "deploy": {"replicas": 2}}}}
NODES = {"n1": {"Description": {"Hostname": "vm"}, "Status": {"State": "ready", "Addr": "10.77.0.1"}},
         "n2": {"Description": {"Hostname": "vm"}, "Status": {"State": "down", "Addr": "10.77.0.2"}}}
STICKER = StickerState(payload={"lockSha256": "abc"})


def _task(slot: int, digest: str, state: str = "running", node: str = "n1", at: str = "2026-12-02T10:00:01Z",
          err: str = "") -> dict[str, Any]:
    return {"ID": f"task{slot}{state}", "Slot": slot, "NodeID": node, "DesiredState": "running",
            "Status": {"State": state, "Timestamp": at, "Err": err},
            "Spec": {"ContainerSpec": {"Image": IMAGE + digest, "Labels": LABELS if digest == V2 else {}}},
            "_service": "shop_web"}


def _svc(tasks: list[dict[str, Any]], update: str | None = "completed", image: str = V2) -> ServiceState:
    return ServiceState("web", IMAGE + image, LABELS, 2, update, "", tasks)


def _kinds(svc: ServiceState, nodes: dict[str, Any] | None = None) -> set[str]:
    return {d.kind for d in differences("shop", DOC, "abc", [svc], nodes or {"n1": NODES["n1"]}, STICKER)}


def test_converged_only_when_every_task_runs_the_locks_digest() -> None:
    assert _kinds(_svc([_task(1, V2), _task(2, V2)])) == set()
    # mid-update: an old task, one starting, the update in progress — all waited for
    midway = _svc([_task(1, V2), _task(2, V1)], update="updating")
    assert _kinds(midway) == {"image-digest", "labels", "update-state", "replicas"}
    starting = _svc([_task(1, V2), _task(2, V2, state="starting")], update=None)
    assert _kinds(starting) == {"stopped", "replicas"}
    for svc in (midway, starting):
        diffs = differences("shop", DOC, "abc", [svc], NODES, STICKER)
        assert decisive([svc], diffs, []) == []


def test_what_ends_the_wait_at_once() -> None:
    paused = _svc([_task(1, V2), _task(2, V1)], update="paused")
    diffs = differences("shop", DOC, "abc", [paused], NODES, STICKER)
    assert [d.kind for d in decisive([paused], diffs, [])] == ["update-state"]
    other = _svc([_task(1, V1), _task(2, V1)], image=V1)     # the spec was never given this lock
    diffs = differences("shop", DOC, "abc", [other], NODES, STICKER)
    assert [d.kind for d in decisive([other], diffs, [])] == ["image-digest"]
    missing = differences("shop", DOC, "abc", [], NODES, STICKER)
    assert [d.kind for d in decisive([], missing, [])] == ["missing"]


def test_a_failed_task_counts_only_after_the_run_began_and_only_for_the_locks_image() -> None:
    since = _when("2026-12-02T10:00:00.999999999Z")
    tasks = [_task(3, V2, "failed", at="2026-12-02T10:00:05.123456789Z", err="dockerexec: unhealthy container"),
             _task(4, V2, "failed", at="2026-12-02T09:59:00Z"),        # before this run
             _task(5, V1, "rejected", at="2026-12-02T10:00:06Z")]      # another image (the old release)
    found = failed_since(tasks, DOC, "shop", since)
    assert [(d.service, d.kind) for d in found] == [("web", "task-failed")]
    assert "unhealthy container" in found[0].detail and "task3failed" in found[0].detail
    assert len(failed_since(tasks, DOC, "shop", None)) == 2                   # recovery: any of the lock's image


def test_drift_per_task_names_the_node_and_the_replicas_the_lock_asks() -> None:
    svc = _svc([_task(1, V2), _task(2, V2, node="n2")])
    diffs = differences("shop", DOC, "abc", [svc], NODES, STICKER)
    [node] = [d for d in diffs if d.kind == "node"]
    assert node.detail == "shop_web.2 is on node n2 (10.77.0.2), which is down"
    scaled = _svc([_task(1, V2)])          # one task where the lock asks two (a scale by hand)
    [rep] = [d for d in differences("shop", DOC, "abc", [scaled], NODES, STICKER) if d.kind == "replicas"]
    assert rep.detail == "1 of 2 task(s) running the lock's digest"
