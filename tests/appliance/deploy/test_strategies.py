"""Rolling and canary rollouts on the real test dockerd and registry: the order and the
batches recorded, a failed probe in a later batch rolling every changed target back (same
digests as before), a canary whose probe finds nobody listening rolled back with the other
targets never touched; ``batches()`` and ``from_settings()`` as pure functions."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from click.testing import Result

from appliance import users
from appliance.deploy import run
from appliance.deploy.outcome import Report
from appliance.deploy.strategy import Strategy, batches, from_settings
from appliance.home import Home
from appliance.runs.probe import ProbeSpec
from appliance.store.blobs import BlobStore
from appliance.store.db import open_db
from tests.appliance.deploy.conftest import Site
from tests.appliance.deploy.site import Rel, free_port

NAMES = ["dev-1", "dev-2", "dev-3"]


def web_on_env_port() -> dict[str, object]:
    """busybox httpd on 127.0.0.1:${PORT}: each target's env file gives its own port (one engine, host network)."""
    return {"network_mode": "host", "restart": "no", "stop_signal": "SIGKILL",
            "command": ["/bin/busybox", "sh", "-c", "exec /bin/busybox httpd -f -p 127.0.0.1:${PORT} -h /www"],
            "healthcheck": {"test": ["CMD", "/bin/busybox", "wget", "-q", "-O", "/dev/null",
                                     "http://127.0.0.1:${PORT}/"],
                            "interval": "1s", "timeout": "1s", "retries": 2, "start_period": "0s"}}


def three_targets(site: Site, tmp_path: Path) -> tuple[dict[str, str], dict[str, int]]:
    projects, ports = {}, {}
    for name in NAMES:
        ports[name] = free_port()
        env = tmp_path / f"{name}.env"
        env.write_text(f"PORT={ports[name]}\n")
        projects[name] = site.target(name, "dev", "--env-file", str(env))
    return projects, ports


def import_two(site: Site) -> None:
    site.import_([Rel("shop", "1.0.0", {"web": web_on_env_port()}, {"web": "shop web 1 (strategies)"}),
                  Rel("shop", "2.0.0", {"web": web_on_env_port()}, {"web": "shop web 2 (strategies)"})])


def deploy(site: Site, ref: str, strategy: Strategy | None, sleeps: list[float] | None = None,
           messages: list[str] | None = None) -> Report:
    home = Home(site.home)
    db = open_db(home.db_path)
    try:
        promotion = site.promote(ref)
        return run.deploy(home, db, promotion, users.get(db, "dave"),
                          progress=lambda _f, m: (messages if messages is not None else []).append(m),
                          strategy=strategy, sleep=(sleeps if sleeps is not None else []).append)
    finally:
        db.close()


def containers(site: Site, project: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """service → (container id, image digests) of what runs in *project*."""
    client = site.client()
    try:
        out = {}
        for ctr in client.containers.list(filters={"label": f"com.docker.compose.project={project}"}):
            image = client.images.get(ctr.attrs["Image"])
            out[ctr.labels["com.docker.compose.service"]] = (
                str(ctr.id), tuple(sorted(str(d).split("@")[1] for d in image.attrs["RepoDigests"])))
        return out
    finally:
        client.close()


def digests(site: Site, projects: dict[str, str]) -> dict[str, tuple[str, ...]]:
    return {name: containers(site, project)["web"][1] for name, project in projects.items()}


def cli(site: Site, *args: str) -> Result:
    r = site.run(*args)
    assert isinstance(r, Result)
    return r


def deployment_detail(site: Site, deployment: str) -> dict[str, Any]:
    db = sqlite_utils.Database(site.home / "stella.db")
    try:
        row = db.execute("SELECT detail FROM deployments WHERE id = ?", [deployment]).fetchone()
        return dict(json.loads(row[0]))
    finally:
        db.close()


def packet_event(site: Site, report: Report) -> dict[str, Any]:
    envelope = json.loads(BlobStore(Home(site.home).blobs).path(report.packet).read_bytes())
    return dict(json.loads(base64.b64decode(envelope["payload"]))["event"])


@pytest.fixture()
def health_server() -> Iterator[tuple[int, list[int]]]:
    """A real HTTP server on 127.0.0.1 standing in for the release's health endpoint: it
    answers each request with the next status of the list it yields (the last repeats)."""
    statuses = [200]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
            body = b"ok" if status < 400 else b"degraded"
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield httpd.server_address[1], statuses
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_rolling_window_1_goes_target_by_target_and_records_its_batches(site: Site, tmp_path: Path) -> None:
    import_two(site)
    projects, ports = three_targets(site, tmp_path)
    sleeps: list[float] = []
    messages: list[str] = []
    probe = ProbeSpec("tcp", ports["dev-1"], interval=0.2, deadline=10)
    report = deploy(site, "shop@1.0.0", Strategy("rolling", window=1, pause=5, probe=probe), sleeps, messages)
    assert report.ok, report.message
    assert [(f["target"], f["batch"]) for f in report.targets] == [("dev-1", 1), ("dev-2", 2), ("dev-3", 3)]
    assert all(f["probes"][0]["ok"] for f in report.targets)
    assert sleeps == [5, 5]                                    # between batches, not after the last
    # the order as it happened: each batch deployed, probed, paused, before the next one started
    steps = [m for m in messages if m.startswith("batch")]
    assert [m.split(":")[0] + ":" + m.split(":")[1].split(" ")[1] for m in steps] == [
        "batch 1/3 (rolling, window 1):target", "batch 1/3 (rolling, window 1):probing",
        "batch 1/3 (rolling, window 1):pause",
        "batch 2/3 (rolling, window 1):target", "batch 2/3 (rolling, window 1):probing",
        "batch 2/3 (rolling, window 1):pause",
        "batch 3/3 (rolling, window 1):target", "batch 3/3 (rolling, window 1):probing"]
    assert "target 2/3 dev-2" in steps[3]
    created = {name: containers(site, project)["web"][0] for name, project in projects.items()}
    client = site.client()
    try:
        started = [client.containers.get(created[n]).attrs["Created"] for n in NAMES]
    finally:
        client.close()
    assert started == sorted(started)
    detail = deployment_detail(site, report.deployment)
    assert detail["batches"] == [["dev-1"], ["dev-2"], ["dev-3"]]
    assert detail["strategy"]["kind"] == "rolling" and detail["strategy"]["window"] == 1
    assert detail["strategy"]["probe"]["port"] == ports["dev-1"]
    event = packet_event(site, report)
    assert [t["batch"] for t in event["targets"]] == [1, 2, 3]
    assert event["deployment"]["detail"]["batches"] == [["dev-1"], ["dev-2"], ["dev-3"]]
    assert cli(site, "drift", "dev").exit_code == 0


def test_rolling_second_batch_fails_health_every_target_back_on_the_previous_release(
        site: Site, tmp_path: Path, health_server: tuple[int, list[int]]) -> None:
    import_two(site)
    projects, _ = three_targets(site, tmp_path)
    first = deploy(site, "shop@1.0.0", None)
    assert first.ok, first.message
    assert "batch" not in first.targets[0]                     # all-at-once: today's facts, unchanged
    before = {name: containers(site, project)["web"] for name, project in projects.items()}
    port, statuses = health_server
    statuses[:] = [200, 503]                                   # healthy after batch 1, degraded after batch 2
    probe = ProbeSpec("http", port, "/healthz", failure="status >= 500", interval=0.2, deadline=10)
    report = deploy(site, "shop@2.0.0", Strategy("rolling", window=1, probe=probe))
    assert not report.ok
    assert "target dev-2: health probe: failureExpression `status >= 500` holds: status 503" in report.message
    assert [(f["target"], f["batch"], f["rollback"]["action"]) for f in report.targets] == [
        ("dev-1", 1, "reapplied"), ("dev-2", 2, "reapplied")]
    assert all(f["rollback"]["ok"] for f in report.targets)
    after = {name: containers(site, project)["web"] for name, project in projects.items()}
    assert {n: d for n, (_, d) in after.items()} == {n: d for n, (_, d) in before.items()}
    assert after["dev-3"] == before["dev-3"]                   # never touched: the same container
    detail = deployment_detail(site, report.deployment)
    assert detail["batches"] == [["dev-1"], ["dev-2"], ["dev-3"]] and detail["errors"]
    event = packet_event(site, report)
    assert [t["target"] for t in event["targets"]] == ["dev-1", "dev-2"]
    where = json.loads(cli(site, "whereis", "--json").output)
    assert {w["target"]: w["release"] for w in where} == {n: "shop@1.0.0" for n in NAMES}


def test_canary_whose_probe_finds_nobody_is_rolled_back_and_the_rest_never_touched(
        site: Site, tmp_path: Path) -> None:
    import_two(site)
    projects, _ = three_targets(site, tmp_path)
    assert deploy(site, "shop@1.0.0", None).ok
    before = {name: containers(site, project)["web"] for name, project in projects.items()}
    nobody = free_port()
    sleeps: list[float] = []
    strategy = Strategy("canary", canary=1, soak=60, probe=ProbeSpec("http", nobody, interval=0.2, deadline=1))
    report = deploy(site, "shop@2.0.0", strategy, sleeps)
    assert not report.ok and sleeps == []                     # no soak: the canary never became healthy
    assert f"target dev-1: health probe: connection refused on 127.0.0.1:{nobody} after " in report.message
    [canary] = report.targets
    assert canary["target"] == "dev-1" and canary["batch"] == 1 and canary["rollback"]["action"] == "reapplied"
    assert canary["probes"][0]["error"].startswith("connection refused")
    after = {name: containers(site, project)["web"] for name, project in projects.items()}
    assert after["dev-1"][1] == before["dev-1"][1] and after["dev-1"][0] != before["dev-1"][0]
    assert after["dev-2"] == before["dev-2"] and after["dev-3"] == before["dev-3"]
    assert deployment_detail(site, report.deployment)["batches"] == [["dev-1"], ["dev-2", "dev-3"]]
    db = sqlite_utils.Database(site.home / "stella.db")
    try:
        touched = [r[0] for r in db.execute("SELECT target FROM target_rollouts WHERE deployment_id = ?",
                                            [report.deployment])]
    finally:
        db.close()
    assert touched == ["dev-1"]


def test_canary_soaks_then_deploys_the_rest(site: Site, tmp_path: Path) -> None:
    import_two(site)
    _, ports = three_targets(site, tmp_path)
    sleeps: list[float] = []
    messages: list[str] = []
    probe = ProbeSpec("http", ports["dev-1"], interval=0.2, deadline=10)
    report = deploy(site, "shop@1.0.0", Strategy("canary", canary=1, soak=900, probe=probe), sleeps, messages)
    assert report.ok, report.message
    assert sleeps == [900]
    assert [(f["target"], f["batch"], len(f["probes"])) for f in report.targets] == [
        ("dev-1", 1, 2), ("dev-2", 2, 1), ("dev-3", 2, 1)]                 # the canary probed again after the soak
    assert any("batch 1/2 (the canary) (canary 1): soaking the canary: 900 s" in m for m in messages), messages


# --- pure ---------------------------------------------------------------------------------------

def test_batches() -> None:
    ts = ["a", "b", "c", "d", "e"]
    assert batches(Strategy(), ts) == [ts]
    assert batches(Strategy(), []) == []
    assert batches(Strategy("rolling", window=1), ts) == [["a"], ["b"], ["c"], ["d"], ["e"]]
    assert batches(Strategy("rolling", window=2), ts) == [["a", "b"], ["c", "d"], ["e"]]
    assert batches(Strategy("rolling", window=9), ts) == [ts]
    assert batches(Strategy("canary", canary=1), ts) == [["a"], ["b", "c", "d", "e"]]
    assert batches(Strategy("canary", canary=2), ts[:3]) == [["a", "b"], ["c"]]
    assert batches(Strategy("canary", canary=5), ts) == [ts]
    assert batches(Strategy("canary", canary=3), []) == []
    for strategy in (Strategy("rolling", window=3), Strategy("canary", canary=2)):
        flat = [t for b in batches(strategy, ts) for t in b]
        assert flat == ts                                       # every target once, in order


def test_from_settings() -> None:
    assert from_settings({}) == Strategy()
    assert from_settings({"strategy": "rolling", "window": 2, "pause": "1m30s"}) == Strategy("rolling", 2, 90)
    s = from_settings({"strategy": "canary", "canary": 1, "soak": "15m",
                       "health": {"probe": "http", "port": 8080, "path": "/healthz", "deadline": "1m"}})
    assert s == Strategy("canary", canary=1, soak=900, probe=ProbeSpec("http", 8080, "/healthz", deadline=60.0))
    assert not s.plain and Strategy().plain and not Strategy(probe=s.probe).plain
    assert s.to_dict()["soak"] == 900 and "window" not in s.to_dict()
    with pytest.raises(ValueError, match="blue-green"):
        from_settings({"strategy": "blue-green"})
    for bad in ({"strategy": "yolo"}, {"strategy": "rolling", "window": 0}, {"strategy": "rolling", "pause": "x"},
                {"strategy": "canary", "health": {"probe": "http", "port": 80, "successExpression": "status ="}}):
        with pytest.raises(ValueError):
            from_settings(bad)
