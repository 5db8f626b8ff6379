"""Benchmark of ``stella deploy`` against Docker Compose by hand (a script, not a test).

A 3-service release (busybox httpd on 127.0.0.1, each with a healthcheck) whose images
are already on the host. In the same run, alternating, best of --runs:

- ours:   ``stella deploy P-…`` as a process (gates re-checked, registry checked, lock
          file rendered and stored, pulls skipped, compose up, health wait, signed
          sticker written, evidence packet sealed);
- ours in-process: the same command through click's runner in this (warm) process, i.e.
          without interpreter start-up and imports;
- direct: ``docker-compose -p PROJECT -f compose.stella.lock.yml up -d --wait`` of the same
          lock file with the same Compose binary.

Each contender starts from a stopped project (``down`` before each run, not timed).
Prints both, and the ratio ours/direct (goal <= 1.2). Needs the test services:

    eval "$(./build.sh services start)"; .venv/bin/python bench/deploy.py [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from appliance.deploy.compose import Compose, compose_binary  # noqa: E402
from appliance.deploy.rollout import working_lock  # noqa: E402
from appliance.home import Home  # noqa: E402
from appliance.registry import config as registry_config  # noqa: E402
from appliance.registry.serve import start  # noqa: E402
from kit.crypto import generate  # noqa: E402
from tests.appliance.deploy.site import Rel, build_kit, free_port, web  # noqa: E402
from tests.appliance.helpers import make_root, stella  # noqa: E402

SERVICES = ("api", "web", "worker")


def _ok(result: object) -> str:
    assert result.exit_code == 0, result.output
    return str(result.output)


def _setup(tmp: Path, docker_host: str) -> tuple[Path, str, subprocess.Popen[bytes]]:
    signer = generate("default")
    trust = tmp / "trust.json"
    trust.write_bytes(make_root([signer]).envelope.to_bytes())
    home = tmp / "home"
    addr = f"127.0.0.1:{free_port()}"
    _ok(stella("init", "--trust", str(trust), "--registry-addr", addr, home=home))
    proc = start(Home(home), registry_config.load(Home(home)))
    rel = Rel("bench", "1.0.0", {s: web(free_port()) for s in SERVICES}, {s: f"bench {s}" for s in SERVICES})
    _ok(stella("import", str(build_kit(tmp, signer, [rel])), home=home))
    for name, role in (("root", "admin"), ("alice", "requester"), ("dave", "deployer")):
        _ok(stella("user", "add", name, "--role", role, *(["--as", "root"] if name != "root" else []), home=home))
    _ok(stella("env", "create", "dev", "--order", "1", "--as", "root", home=home))
    project = f"bench{free_port()}"
    _ok(stella("target", "add", "bench-1", "--env", "dev", "--docker", docker_host, "--project", project,
               "--as", "root", home=home))
    return home, project, proc


def _promote(home: Path) -> str:
    out = _ok(stella("promote", "bench@1.0.0", "--to", "dev", "--reason", "bench", "--json", "--as", "alice",
                     home=home))
    return str(json.loads(out)["promotion"]["id"])


def _time(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    docker_host = os.environ.get("DOCKER_HOST", "")
    if not docker_host.startswith("unix://"):
        raise SystemExit("DOCKER_HOST is not set: eval \"$(./build.sh services start)\" first")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory(prefix="stella-bench-deploy-") as tmp_name:
        tmp = Path(tmp_name)
        home, project, registry = _setup(tmp, docker_host)
        compose = Compose(docker_host, project)
        by_hand = tmp / "by-hand" / "compose.stella.lock.yml"
        try:
            _ok(stella("deploy", _promote(home), "--as", "dave", home=home))      # images now on the host
            by_hand.parent.mkdir()
            by_hand.write_bytes(working_lock(Home(home), "bench-1").read_bytes())
            ours, inproc, direct = [], [], []
            for _ in range(args.runs):
                compose.down()
                promotion = _promote(home)
                started = time.perf_counter()
                _ok(stella("deploy", promotion, "--as", "dave", home=home))
                inproc.append(time.perf_counter() - started)
                compose.down()
                promotion = _promote(home)
                ours.append(_time([sys.executable, "-c", "from appliance.cli import main; main()",
                               "deploy", promotion, "--as", "dave",
                                   "--home", str(home)], env))
                compose.down()
                direct.append(_time([compose_binary(), "--project-name", project, "--file", str(by_hand),
                                     "up", "--detach", "--wait", "--wait-timeout", "60"],
                                    {**env, "DOCKER_HOST": docker_host}))
        finally:
            compose.down()
            import docker
            client = docker.DockerClient(base_url=docker_host)
            try:
                client.volumes.get(f"stella-sticker-{project}").remove(force=True)
            except docker.errors.NotFound:
                pass
            finally:
                client.close()
            registry.terminate()
            registry.wait(10)
    a, b, c = min(ours), min(direct), min(inproc)
    print(f"3-service release, images on the host, best of {args.runs}")
    print(f"  ours   stella deploy            {a:6.2f} s   (runs: {', '.join(f'{x:.2f}' for x in ours)})")
    print(f"  direct docker compose up --wait {b:6.2f} s   (runs: {', '.join(f'{x:.2f}' for x in direct)})")
    print(f"  ours   deploy, in-process       {c:6.2f} s   (runs: {', '.join(f'{x:.2f}' for x in inproc)})")
    print(f"  ratio ours/direct {a / b:.2f} (goal <= 1.2); in-process (no interpreter start-up/imports) {c / b:.2f}")


if __name__ == "__main__":
    main()
