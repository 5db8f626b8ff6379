"""Benchmark of the workflow engine's own cost (a script, not a test).

1. Engine overhead: a 200-step DAG of no-op steps (``wait`` 0s: one step, then 198 in
   parallel, then one that needs them all), planned and executed with persistence (every
   claim and every end a transaction on fsync'd SQLite, the run's evidence packet sealed at
   its end) vs the same no-op act called in a plain loop in the same process. Prints the
   overhead per step (goal < 5 ms).
2. A 3-target rolling deploy (window 1) through the engine (``stella deploy`` advancing the
   run: gate, deploy step, evidence with the run) vs the same deploy called directly
   (appliance.deploy.run.deploy with the same strategy), in the same process, alternating,
   best of --runs. Prints the ratio (goal <= 1.1). Needs the test services:

    eval "$(./build.sh services start)"; .venv/bin/python bench/workflow.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from appliance import users, workflows  # noqa: E402
from appliance.deploy import run as deploy_run, strategy  # noqa: E402
from appliance.deploy.compose import Compose  # noqa: E402
from appliance.home import Home  # noqa: E402
from appliance.promotions import store as pstore  # noqa: E402
from appliance.registry import config as registry_config  # noqa: E402
from appliance.registry.serve import start as start_registry  # noqa: E402
from appliance.runs import engine, store  # noqa: E402
from appliance.runs.acts import wait  # noqa: E402
from appliance.runs.acts.base import Context  # noqa: E402
from appliance.store.db import open_db, transaction  # noqa: E402
from kit.crypto import generate  # noqa: E402
from kit.timeutil import now  # noqa: E402
from kit.workflow.load import from_doc  # noqa: E402
from kit.workflow.model import SCHEMA  # noqa: E402
from tests.appliance.deploy.site import Rel, build_kit, free_port  # noqa: E402
from tests.appliance.helpers import make_root, stella  # noqa: E402

STEPS = 200
TARGETS = ("dev-1", "dev-2", "dev-3")


def _ok(result: Any) -> str:
    assert result.exit_code == 0, result.output
    return str(result.output)


def noop_template() -> dict[str, Any]:
    middle = [f"n{i:03d}" for i in range(STEPS - 2)]
    steps = [{"id": "first", "uses": "wait", "with": {"duration": "0s"}}]
    steps += [{"id": m, "uses": "wait", "needs": ["first"], "with": {"duration": "0s"}} for m in middle]
    steps += [{"id": "last", "uses": "wait", "needs": middle, "with": {"duration": "0s"}}]
    return {"schema": SCHEMA, "name": "bench-noop", "steps": steps}


ROLLING = {"schema": SCHEMA, "name": "bench-rolling", "steps": [
    {"id": "gates", "uses": "gate"},
    {"id": "deploy", "uses": "deploy", "needs": ["gates"], "with": {"strategy": "rolling", "window": 1}}]}


def web_on_env_port() -> dict[str, object]:
    return {"network_mode": "host", "restart": "no", "stop_signal": "SIGKILL",
            "command": ["/bin/busybox", "sh", "-c", "exec /bin/busybox httpd -f -p 127.0.0.1:${PORT} -h /www"],
            "healthcheck": {"test": ["CMD", "/bin/busybox", "wget", "-q", "-O", "/dev/null",
                                     "http://127.0.0.1:${PORT}/"],
                            "interval": "1s", "timeout": "1s", "retries": 2, "start_period": "0s"}}


def setup(tmp: Path, docker_host: str) -> tuple[Path, list[str], Any]:
    signer = generate("default")
    trust = tmp / "trust.json"
    trust.write_bytes(make_root([signer]).envelope.to_bytes())
    home = tmp / "home"
    addr = f"127.0.0.1:{free_port()}"
    _ok(stella("init", "--trust", str(trust), "--registry-addr", addr, home=home))
    registry = start_registry(Home(home), registry_config.load(Home(home)))
    rel = Rel("bench", "1.0.0", {"web": web_on_env_port()}, {"web": "bench workflow web"})
    _ok(stella("import", str(build_kit(tmp, signer, [rel])), home=home))
    for name, role in (("root", "admin"), ("alice", "requester"), ("dave", "deployer")):
        _ok(stella("user", "add", name, "--role", role, *(["--as", "root"] if name != "root" else []), home=home))
    for env, order in (("dev", 0), ("noop", 1)):
        _ok(stella("env", "create", env, "--order", str(order), "--as", "root", home=home))
    projects = []
    for name in TARGETS:
        env_file = tmp / f"{name}.env"
        env_file.write_text(f"PORT={free_port()}\n")
        project = f"wfbench{free_port()}"
        projects.append(project)
        _ok(stella("target", "add", name, "--env", "dev", "--docker", docker_host, "--project", project,
                   "--env-file", str(env_file), "--as", "root", home=home))
    return home, projects, registry


def promote(home: Path, env: str) -> str:
    out = _ok(stella("promote", "bench@1.0.0", "--to", env, "--reason", "bench", "--json", "--as", "alice",
                     home=home))
    return str(json.loads(out)["promotion"]["id"])


def engine_overhead(home: Path, reps: int) -> tuple[float, float, list[float]]:
    """(best engine seconds, best plain-loop seconds, every engine run) for the 200-step DAG."""
    h = Home(home)
    db = open_db(h.db_path)
    template = from_doc(noop_template(), "bench")
    promotion_id = promote(home, "noop")         # its default run parks at the deploy step
    p = pstore.get(db, promotion_id)
    workflows.assign(db, "noop", template, origin="admin", ref="bench", source=None, actor="root")
    engine_runs, loop_runs = [], []
    for _ in range(reps):
        with transaction(db):
            for table in ("run_attempts", "run_steps"):
                db.execute(f"DELETE FROM {table} WHERE run_id IN (SELECT id FROM runs WHERE promotion_id = ?)",
                           [promotion_id])
            db.execute("DELETE FROM runs WHERE promotion_id = ?", [promotion_id])
            run = engine.start(h, db, p, "alice")
        started = time.perf_counter()
        done = engine.advance(h, db, run.id, engine.Advance("alice", block=False))
        engine_runs.append(time.perf_counter() - started)
        assert done.state == "succeeded", done
        assert len(store.attempts(db, run.id)) == STEPS
        started = time.perf_counter()
        for step in template.steps:
            moment = now()
            wait.act(Context(h, db, run, step, 1, f"{run.id}/{step.id}/1", moment, moment, "alice", None,
                             h.root / "bench.log"))
        loop_runs.append(time.perf_counter() - started)
    db.close()
    return min(engine_runs), min(loop_runs), engine_runs


def rolling(home: Path, projects: list[str], docker_host: str, reps: int) -> tuple[list[float], list[float]]:
    h = Home(home)
    db = open_db(h.db_path)
    workflows.assign(db, "dev", from_doc(ROLLING, "bench"), origin="admin", ref="bench", source=None, actor="root")
    dave = users.get(db, "dave")
    composes = [Compose(docker_host, p) for p in projects]
    through, direct = [], []

    def down() -> None:
        for c in composes:
            c.down()
    try:
        _ok(stella("deploy", promote(home, "dev"), "--as", "dave", home=home))      # images on the host
        for _ in range(reps):
            down()
            pid = promote(home, "dev")
            started = time.perf_counter()
            _ok(stella("deploy", pid, "--as", "dave", home=home))
            through.append(time.perf_counter() - started)
            down()
            pid = promote(home, "dev")
            started = time.perf_counter()
            report = deploy_run.deploy(h, db, pid, dave, strategy=strategy.from_settings(ROLLING["steps"][1]["with"]))
            direct.append(time.perf_counter() - started)
            assert report.ok, report.message
    finally:
        down()
        db.close()
    return through, direct


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--skip-deploy", action="store_true", help="Only the engine overhead (no Docker needed).")
    args = parser.parse_args()
    docker_host = os.environ.get("DOCKER_HOST", "")
    if not args.skip_deploy and not docker_host.startswith("unix://"):
        raise SystemExit("DOCKER_HOST is not set: eval \"$(./build.sh services start)\" first (or --skip-deploy)")
    with tempfile.TemporaryDirectory(prefix="stella-bench-workflow-") as tmp_name:
        tmp = Path(tmp_name)
        home, projects, registry = setup(tmp, docker_host or "unix:///var/run/docker.sock")
        try:
            through: list[float] = []
            direct: list[float] = []
            if args.skip_deploy:      # the noop environment comes after dev: deployed there by hand
                _ok(stella("promotion", "mark-deployed", promote(home, "dev"), "--as", "dave", home=home))
            else:
                through, direct = rolling(home, projects, docker_host, args.runs)
            eng, loop, runs = engine_overhead(home, max(args.runs, 3))
            print(f"{STEPS}-step DAG of no-op steps (1 → {STEPS - 2} in parallel → 1), fsync'd SQLite, "
                  f"best of {max(args.runs, 3)}")
            print(f"  engine (planned, claimed, recorded, sealed) {eng * 1000:8.1f} ms   "
                  f"(runs: {', '.join(f'{x * 1000:.0f}' for x in runs)})")
            print(f"  plain loop of the same no-op acts           {loop * 1000:8.1f} ms")
            print(f"  overhead per step {(eng - loop) / STEPS * 1000:.2f} ms (goal < 5 ms)")
            if through:
                a, b = min(through), min(direct)
                print(f"3-target rolling deploy (window 1), images on the host, best of {args.runs}")
                print(f"  through the engine (stella deploy)  {a:6.2f} s   (runs: "
                      f"{', '.join(f'{x:.2f}' for x in through)})")
                print(f"  direct (deploy.run.deploy)          {b:6.2f} s   (runs: "
                      f"{', '.join(f'{x:.2f}' for x in direct)})")
                print(f"  ratio engine/direct {a / b:.3f} (goal <= 1.1)")
        finally:
            registry.terminate()
            registry.wait(10)



if __name__ == "__main__":
    main()
