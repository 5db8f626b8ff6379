"""Benchmark of deploys through agents and of heartbeats (issue 14; a script, not a test).

(a) A 3-service release (busybox httpd on 127.0.0.1, each with a healthcheck; ports from each
    target's env file) deployed, in the same run, alternating, best of --runs, to:

    - direct: 3 targets ``--docker`` on the test dockerd (the appliance drives the engine);
    - agents: 3 targets ``--agent-labels`` each served by its own ``stella-agent run`` whose
              engine is the same test dockerd (on loopback the three "hosts" are three agents,
              three Compose projects, three sets of ports).

    Both as ``stella deploy`` processes against the same home, with a real ``stella serve`` (agent
    listener, default timings) running; every project is stopped before each deploy (not timed).
    Prints both and the ratio agents/direct (goal <= 1.2).

(b) --agents (200) simulated agents in this one process (asyncio, one mutual-TLS client each,
    each registered through the real ``POST /agent/v1/register`` with a token of its own):
    - idle: each holds the long poll (the service's interval, default 10 s) and polls again, as
      an idle ``stella-agent run`` does, for --idle seconds;
    - busy: each heartbeat names a lease (a busy agent's heartbeat: answered at once), as fast as
      the service answers, for --busy seconds.
    Prints heartbeats handled per second and the service process's CPU time per heartbeat (utime +
    stime from /proc/PID/stat before and after: every thread of ``stella serve``).

Needs the test services (DOCKER_HOST, docker-registry):

    source <(grep -v STARTED /tmp/services.env); .venv/bin/python bench/estate.py [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import secrets
import ssl
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from appliance.deploy.compose import Compose  # noqa: E402
from appliance.home import Home  # noqa: E402
from appliance.registry import config as registry_config  # noqa: E402
from appliance.registry.serve import start  # noqa: E402
from kit.crypto import generate  # noqa: E402
from tests.appliance.deploy.site import Rel, build_kit, free_port, web  # noqa: E402
from tests.appliance.helpers import make_root, stella  # noqa: E402
from tests.appliance.web.conftest import Service, start_service  # noqa: E402

SERVICES = ("api", "web", "worker")
HOSTS = 3


def _ok(result: Any) -> str:
    assert result.exit_code == 0, result.output
    return str(result.output)


def _setup(tmp: Path, docker_host: str) -> tuple[Path, subprocess.Popen[bytes]]:
    signer = generate("default")
    trust = tmp / "trust.json"
    trust.write_bytes(make_root([signer]).envelope.to_bytes())
    home = tmp / "home"
    _ok(stella("init", "--trust", str(trust), "--registry-addr", f"127.0.0.1:{free_port()}", home=home))
    proc = start(Home(home), registry_config.load(Home(home)))
    # each service listens on ${PORT_<SERVICE>} from its target's env file: six stacks on one engine
    rel = Rel("bench", "1.0.0", {s: web(f"${{PORT_{s.upper()}}}") for s in SERVICES},  # type: ignore[arg-type]
              {s: f"bench {s}" for s in SERVICES})
    _ok(stella("import", str(build_kit(tmp, signer, [rel])), home=home))
    for name, role in (("root", "admin"), ("alice", "requester"), ("dave", "deployer")):
        _ok(stella("user", "add", name, "--role", role, *(["--as", "root"] if name != "root" else []), home=home))
    _ok(stella("env", "create", "direct", "--order", "1", "--as", "root", home=home))
    _ok(stella("env", "create", "agents", "--order", "2", "--as", "root", home=home))
    return home, proc


def _env_file(tmp: Path, name: str) -> Path:
    path = tmp / f"{name}.env"
    path.write_text("".join(f"PORT_{s.upper()}={free_port()}\n" for s in SERVICES))
    return path


def _agent(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from agent.cli import main; main()", *args], env=env,
                          capture_output=True, text=True, timeout=60)


def _agents_up(tmp: Path, home: Path, svc: Service, docker_host: str,
               env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    procs = []
    for i in range(1, HOSTS + 1):
        made = json.loads(_ok(stella("agent", "token", "create", "--labels", f"role=h{i}", "--json", "--as", "root",
                                     home=home)))
        state = tmp / f"agent-{i}"
        done = _agent("register", "--appliance", svc.base_url, "--token", made["token"], "--state", str(state),
                      "--name", f"host-{i}", "--ca-fingerprint", made["caFingerprint"], env=env)
        assert done.returncode == 0, done.stderr
        log = (tmp / f"agent-{i}.log").open("ab")
        procs.append(subprocess.Popen([sys.executable, "-c", "from agent.cli import main; main()", "run", "--state",
                                       str(state), "--appliance", svc.agent_url, "--docker", docker_host],
                                      env=env, stdout=log, stderr=log))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        listed = json.loads(_ok(stella("agent", "list", "--json", "--as", "root", home=home)))
        if sum(a["state"] == "ready" for a in listed) == HOSTS:
            return procs
        time.sleep(0.2)
    raise SystemExit("the agents did not become ready")


def _deploy(home: Path, env_name: str, env: dict[str, str]) -> float:
    out = _ok(stella("promote", "bench@1.0.0", "--to", env_name, "--reason", "bench", "--json", "--as", "alice",
                     home=home))
    promotion = json.loads(out)["promotion"]["id"]
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", "from appliance.cli import main; main()", "deploy", promotion,
                           "--as", "dave", "--home", str(home)], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"deploy to {env_name} failed:\n{proc.stdout}\n{proc.stderr}")
    return seconds


def deploys(tmp: Path, home: Path, svc: Service, docker_host: str, runs: int, env: dict[str, str]) -> None:
    projects = []
    for i in range(1, HOSTS + 1):
        direct, agent = f"bd{free_port()}", f"ba{free_port()}"
        projects += [direct, agent]
        _ok(stella("target", "add", f"direct-{i}", "--env", "direct", "--docker", docker_host, "--project", direct,
                   "--env-file", str(_env_file(tmp, f"direct-{i}")), "--as", "root", home=home))
        _ok(stella("target", "add", f"agent-{i}", "--env", "agents", "--agent-labels", f"role=h{i}", "--project",
                   agent, "--env-file", str(_env_file(tmp, f"agent-{i}")), "--as", "root", home=home))
    composes = [Compose(docker_host, p) for p in projects]
    agents = _agents_up(tmp, home, svc, docker_host, env)
    try:
        _deploy(home, "direct", env)            # images now on the engine; the gates see direct deployed
        _deploy(home, "agents", env)
        direct, through = [], []
        for _ in range(runs):
            for c in composes:
                c.down()
            direct.append(_deploy(home, "direct", env))
            for c in composes:
                c.down()
            through.append(_deploy(home, "agents", env))
    finally:
        for p in agents:
            p.terminate()
            p.wait(30)
        for c in composes:
            c.down()
        import docker
        client = docker.DockerClient(base_url=docker_host)
        try:
            for p in projects:
                for v in client.volumes.list(filters={"name": f"stella-sticker-{p}"}):
                    v.remove(force=True)
        finally:
            client.close()
    a, b = min(through), min(direct)
    print(f"(a) 3-service release to {HOSTS} targets, images on the engine, best of {runs}")
    print(f"  direct  {HOSTS} --docker targets        {b:6.2f} s   (runs: {', '.join(f'{x:.2f}' for x in direct)})")
    print(f"  agents  {HOSTS} --agent-labels targets  {a:6.2f} s   (runs: {', '.join(f'{x:.2f}' for x in through)})")
    print(f"  ratio agents/direct {a / b:.2f} (goal <= 1.2)")


# --- (b) heartbeats ---------------------------------------------------------------------------

def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")      # utime + stime


def _register_many(home: Path, svc: Service, count: int, tmp: Path) -> list[tuple[str, ssl.SSLContext]]:
    """*count* agents registered through the real endpoint; (name, client TLS context) each."""
    import httpx
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from appliance.agents import tokens
    from appliance.store.db import open_db
    from kit.agentproto import PROTOCOL, RegisterAnswer, RegisterRequest

    db = open_db(Home(home).db_path)
    out = []
    try:
        with httpx.Client(base_url=svc.base_url, timeout=30) as http:
            for i in range(count):
                made = tokens.create(db, Home(home), {"role": "sim"}, dt.timedelta(minutes=15), "root")
                name = f"sim-{i:03d}"
                key = ec.generate_private_key(ec.SECP256R1())
                csr = (x509.CertificateSigningRequestBuilder()
                       .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                       .sign(key, hashes.SHA256()))
                pem = csr.public_bytes(serialization.Encoding.PEM).decode()
                body = RegisterRequest(PROTOCOL, made.token, name, pem, ()).to_json()
                r = http.post("/agent/v1/register", content=body, headers={"Content-Type": "application/json"})
                assert r.status_code == 200, r.text
                answer = RegisterAnswer.from_json(r.content)
                folder = tmp / "sim" / name
                folder.mkdir(parents=True)
                (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                                   serialization.PrivateFormat.PKCS8,
                                                                   serialization.NoEncryption()))
                (folder / "cert.pem").write_text(answer.certificate)
                (folder / "ca.pem").write_text(answer.ca_certificate)
                ctx = ssl.create_default_context(cafile=str(folder / "ca.pem"))
                ctx.load_cert_chain(str(folder / "cert.pem"), str(folder / "key.pem"))
                out.append((name, ctx))
    finally:
        db.close()
    return out


async def _beat(url: str, agents: list[tuple[str, ssl.SSLContext]], seconds: float, busy: bool) -> int:
    import httpx

    from kit.agentproto import PROTOCOL, Heartbeat
    from kit.timeutil import format_time, now

    done = 0
    stop = time.monotonic() + seconds

    async def one(name: str, ctx: ssl.SSLContext) -> None:
        nonlocal done
        running = ("lease-" + secrets.token_hex(12),) if busy else ()
        async with httpx.AsyncClient(base_url=url, verify=ctx, timeout=60) as client:
            while time.monotonic() < stop:          # bounded: each agent stops at the deadline
                body = Heartbeat(PROTOCOL, name, format_time(now()), running).to_json()
                r = await client.post("/agent/v1/poll", content=body, headers={"Content-Type": "application/json"})
                if r.status_code not in (200, 204):
                    raise SystemExit(f"{name}: poll answered {r.status_code}: {r.text}")
                done += 1

    await asyncio.gather(*(one(n, c) for n, c in agents))
    return done


def heartbeats(home: Path, svc: Service, count: int, idle: float, busy: float, tmp: Path) -> None:
    started = time.perf_counter()
    agents = _register_many(home, svc, count, tmp)
    print(f"(b) {count} simulated agents, each registered through POST /agent/v1/register "
          f"({time.perf_counter() - started:.1f} s for all)")
    for mode, seconds in (("idle", idle), ("busy", busy)):
        cpu0, t0 = _cpu_seconds(svc.proc.pid), time.perf_counter()
        n = asyncio.run(_beat(svc.agent_url, agents, seconds, mode == "busy"))
        wall, cpu = time.perf_counter() - t0, _cpu_seconds(svc.proc.pid) - cpu0
        what = ("long polls held for the interval (10 s), as idle agents" if mode == "idle"
                else "heartbeats naming a lease (answered at once), as busy agents")
        print(f"  {mode}: {n} heartbeats in {wall:.1f} s = {n / wall:.1f}/s; service CPU {cpu:.2f} s "
              f"= {1000 * cpu / max(n, 1):.2f} ms per heartbeat ({what})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--idle", type=float, default=25.0, help="seconds of idle long polls")
    parser.add_argument("--busy", type=float, default=10.0, help="seconds of busy heartbeats")
    parser.add_argument("--skip-deploys", action="store_true")
    parser.add_argument("--skip-heartbeats", action="store_true")
    args = parser.parse_args()
    docker_host = os.environ.get("DOCKER_HOST", "")
    if not docker_host.startswith("unix://"):
        raise SystemExit("DOCKER_HOST is not set: source <(grep -v STARTED /tmp/services.env) first")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for k in ("STELLA_AGENT_INTERVAL", "STELLA_AGENT_GRACE", "STELLA_AGENT_LEASE"):
        env.pop(k, None)                     # the documented defaults
    with tempfile.TemporaryDirectory(prefix="stella-bench-estate-") as tmp_name:
        tmp = Path(tmp_name)
        home, registry = _setup(tmp, docker_host)
        svc = start_service(home)
        try:
            if not args.skip_deploys:
                deploys(tmp, home, svc, docker_host, args.runs, env)
            if not args.skip_heartbeats:
                heartbeats(home, svc, args.agents, args.idle, args.busy, tmp)
        finally:
            svc.stop()
            registry.terminate()
            registry.wait(10)


print = partial(print, flush=True)   # noqa: A001  (figures as they come, also into a file)


if __name__ == "__main__":
    main()
