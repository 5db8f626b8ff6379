"""Benchmark of the web console under load (a script, not a test): ``stella serve`` against a bare route.

The appliance: the web tests' site home (a real signed kit imported: web@1.0.0 and web@2.0.0,
environments dev -> stage -> prod, users with console passwords), one real promotion requested
through the CLI (its gates evaluated, decision record stored), then **synthetic rows inserted
directly into SQLite** to reach the sizes of a busy site:

- 1,000 releases (``releases`` rows of the imported kit, 100 names x 10 versions; they point at the
  real web@2.0.0 document, so a release page shows that document under another name);
- 10,000 promotions across the environments in final states (deployed, rejected, cancelled,
  superseded), each with its history rows, and a deployment row for every deployed one;
- 100,000 audit events appended after the real ones, hash-chained exactly as ``audit.append``
  does (``stella audit verify`` still passes).

Nothing of this went through the service layer's rules: it is load, not history.

The load: ``stella serve --no-tls`` on 127.0.0.1 (one uvicorn process, as the systemd unit runs it
but without TLS), 50 concurrent clients (keep-alive connections, one asyncio loop in this process) each fetching
one page after another, logged in (session cookie; a bearer token if login is not there); per
page a phase bounded by a request count and a time limit: the pipeline page ``/``, the promotions
list ``/promotions``, the real promotion's page ``/promotions/P-…``. In the same run the same load
goes to a bare Starlette route returning a page of the same size from memory, served by uvicorn
with the same settings in its own process. Prints p50/p95/p99 latency and throughput for both and
the ratio of the p95s. Goals: p95 < 50 ms on the pipeline page at 50 clients; ratio <= 3.

    .venv/bin/python bench/console.py [--clients 50] [--requests 3000] [--seconds 30] [--rounds 5] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from appliance import audit  # noqa: E402
from appliance.store.db import open_db, transaction  # noqa: E402
from kit import canonical  # noqa: E402
from kit.crypto import generate  # noqa: E402
from tests.appliance.web.conftest import PASSWORDS, _cli, site_home  # noqa: E402

RELEASES, PROMOTIONS, AUDIT_EVENTS = 1_000, 10_000, 100_000
FINAL_STATES = ("deployed", "rejected", "cancelled", "superseded")
USERS = ("alice", "bob", "carol", "dave", "erin", "admin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


# --- the appliance -------------------------------------------------------------------------------

def build(workdir: Path) -> tuple[Path, str]:
    """The home with the real site and the synthetic rows; returns (home, real promotion id).

    With ``--keep DIR`` a home built there before is used again (``DIR/built`` names it)."""
    marker = workdir / "built"
    if marker.is_file():
        home_path, real_id = marker.read_text().split()
        print(f"appliance reused: {home_path}", file=sys.stderr)
        return Path(home_path), real_id
    t0 = time.perf_counter()
    home = site_home(workdir, generate("default"))
    result = _cli(home, "promote", "web@1.0.0", "--to", "dev", "--reason", "bench", "--json", user="alice")
    if result.exit_code != 0:
        raise SystemExit(f"stella promote failed: {result.output}")
    db = open_db(home / "stella.db")
    try:
        real = str(db.execute("SELECT id FROM promotions ORDER BY rowid DESC LIMIT 1").fetchone()[0])
        with transaction(db):
            _synthesise(db)
    finally:
        db.close()
    print(f"appliance built in {time.perf_counter() - t0:.1f}s: {home}", file=sys.stderr)
    marker.write_text(f"{home} {real}\n")
    return home, real


def _synthesise(db: object) -> None:
    import sqlite_utils
    assert isinstance(db, sqlite_utils.Database)
    rng = random.Random(12)
    kit_id, path, sha = db.execute(
        "SELECT kit_id, path, sha256 FROM releases WHERE name = 'web' AND version = '2.0.0'").fetchone()
    envs = [r[0] for r in db.execute("SELECT name FROM environments ORDER BY ord")]
    db.conn.executemany("INSERT INTO releases (kit_id, path, sha256, name, version) VALUES (?, ?, ?, ?, ?)",
                   [(kit_id, f"releases/bench-{i // 10:03d}-1.{i % 10}.0/release.json", sha,
                     f"bench-{i // 10:03d}", f"1.{i % 10}.0") for i in range(RELEASES)])
    start = time.time() - 400 * 86400
    base = db.execute("SELECT count(*) FROM promotions").fetchone()[0]
    dep_base = db.execute("SELECT count(*) FROM deployments").fetchone()[0]
    promotions, history, deployments = [], [], []
    for i in range(PROMOTIONS):
        pid = f"P-{base + i + 1:04d}"
        rel = rng.randrange(RELEASES)
        name, version = f"bench-{rel // 10:03d}", f"1.{rel % 10}.0"
        env = envs[i % len(envs)]
        state = FINAL_STATES[rng.randrange(len(FINAL_STATES))]
        created = start + i * 3000
        at, done = _iso(created), _iso(created + 1800)
        requester = USERS[rng.randrange(2)]
        promotions.append((pid, name, version, sha, kit_id, f"releases/{name}-{version}/release.json", env,
                           requester, "synthetic (bench/console.py)", state, at, done))
        history.append((pid, 1, at, requester, None, "requested", "synthetic"))
        history.append((pid, 2, done, "dave", "requested", state, "synthetic"))
        if state == "deployed":
            did = f"D-{dep_base + len(deployments) + 1:04d}"
            deployments.append((did, pid, env, f"{name}@{version}", "deployed", "dave", at, done, "healthy", "{}"))
    db.conn.executemany("INSERT INTO promotions (id, release_name, release_version, release_sha256, kit_id, "
                        "release_path, environment, requester, reason, state, created_at, updated_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", promotions)
    db.conn.executemany("INSERT INTO promotion_history (promotion_id, seq, at, actor, from_state, to_state, note) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)", history)
    db.conn.executemany("INSERT INTO deployments (id, promotion_id, environment, release, state, deployer, started_at, "
                        "finished_at, health, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", deployments)
    seq, prev = audit.head(db)
    events = []
    for i in range(AUDIT_EVENTS):
        seq += 1
        when = _iso(start + i * 300)
        details = canonical.dumps({"promotion": f"P-{base + i % PROMOTIONS + 1:04d}", "synthetic": True}).decode()
        h = audit.event_hash(seq, when, "dave", "promotion.synthetic", details, prev)
        events.append((seq, when, "dave", "promotion.synthetic", details, prev, h))
        prev = h
    db.conn.executemany("INSERT INTO audit_events (seq, time, actor, action, details, prev_hash, hash) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)", events)


# --- the servers ---------------------------------------------------------------------------------

def _wait(proc: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + 60
    with httpx.Client(timeout=2.0) as c:
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise SystemExit(f"server exited {proc.returncode}: {err}")
            try:
                c.get(url)
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"no answer on {url}") from None
                time.sleep(0.1)


def start_stella(home: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", "from appliance.cli import main; main()", "serve", "--no-tls",
                             "--listen", f"127.0.0.1:{port}", "--home", str(home)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _wait(proc, f"http://127.0.0.1:{port}/login")
    return proc


BARE = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
sizes = [int(x) for x in sys.argv[2].split(",")]
pages = [(b"<!doctype html><html><body>" + b"x" * max(0, n - 42) + b"</body></html>")[:max(n, 42)] for n in sizes]
def page(request):
    return Response(pages[int(request.path_params["i"])], media_type="text/html; charset=utf-8",
                    headers={"Cache-Control": "no-store"})
app = Starlette(routes=[Route("/p/{i:int}", page)])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


def start_bare(port: int, sizes: list[int]) -> subprocess.Popen[bytes]:
    """The same uvicorn settings as ``stella serve`` (appliance/commands/serve.py), a page from memory."""
    proc = subprocess.Popen([sys.executable, "-c", BARE, str(port), ",".join(map(str, sizes))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _wait(proc, f"http://127.0.0.1:{port}/p/0")
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def authenticate(base: str, home: Path) -> tuple[dict[str, str], dict[str, str], str]:
    """(cookies, headers, how): a console session of bob, else a bearer token of bob."""
    with httpx.Client(base_url=base, timeout=10.0) as c:
        r = c.post("/api/v1/login", json={"user": "bob", "password": PASSWORDS["bob"]})
        if r.status_code == 200:
            return dict(c.cookies), {}, "session cookie"
    result = _cli(home, "token", "create", "--user", "bob", "--json", user="admin")
    if result.exit_code == 0:
        return {}, {"Authorization": f"Bearer {json.loads(result.output)['token']}"}, "bearer token"
    print(f"WARNING: neither login ({r.status_code}) nor stella token works: measuring unauthenticated answers",
          file=sys.stderr)
    return {}, {}, "none"


# --- the load ------------------------------------------------------------------------------------

@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    seconds: float = 0.0

    def pct(self, q: float) -> float:
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(q * len(xs)))] * 1000 if xs else float("nan")

    def line(self) -> str:
        n = len(self.latencies)
        codes = " ".join(f"{k}x{v}" for k, v in sorted(self.statuses.items()))
        return (f"{self.name:<34} n={n:<6} p50={self.pct(0.50):7.2f} ms  p95={self.pct(0.95):7.2f} ms  "
                f"p99={self.pct(0.99):7.2f} ms  {n / self.seconds if self.seconds else 0:8.1f} req/s  "
                f"[{codes}{f' errors={self.errors}' if self.errors else ''}]")


class Conn:
    """A minimal HTTP/1.1 keep-alive client on one socket: httpx's async pool costs more CPU per request than
    the bare route (measured: ~170 req/s for 50 clients), and the load generator shares the machine."""

    def __init__(self, host: str, port: int, head: bytes) -> None:
        self.host, self.port, self.head = host, port, head
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, int]:
        """(status, body length)."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(b"GET " + path.encode() + b" HTTP/1.1\r\n" + self.head + b"\r\n")
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        fields = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:] if x)}
        if "content-length" in fields:
            body = await self.reader.readexactly(int(fields["content-length"]))
            size = len(body)
        else:  # chunked
            size = 0
            while True:
                n = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                await self.reader.readexactly(n + 2)
                size += n
                if n == 0:
                    break
        if fields.get("connection", "").lower() == "close":
            await self.close()
        return status, size

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


async def run_phase(phase: Phase, url: str, clients: int, requests: int, seconds: float,
                    cookies: dict[str, str], headers: dict[str, str]) -> Phase:
    """*requests* more requests (or *seconds* at most) into *phase*."""
    left = [requests]
    parsed = httpx.URL(url)
    host, port, path = parsed.host, parsed.port or 80, parsed.raw_path.decode()
    extra = {"Host": f"{host}:{port}", "Accept": "text/html", **headers}
    if cookies:
        extra["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    head = "".join(f"{k}: {v}\r\n" for k, v in extra.items()).encode()
    conns = [Conn(host, port, head) for _ in range(clients)]
    await conns[0].get(path)  # warm (templates compiled, caches filled)

    async def worker(conn: Conn) -> None:
        while left[0] > 0 and time.perf_counter() < deadline:
            left[0] -= 1
            t = time.perf_counter()
            try:
                status, _ = await conn.get(path)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                phase.errors += 1
                await conn.close()
                continue
            phase.latencies.append(time.perf_counter() - t)
            phase.statuses[status] = phase.statuses.get(status, 0) + 1

    deadline = time.perf_counter() + seconds
    t0 = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in conns))
    phase.seconds += time.perf_counter() - t0
    for c in conns:
        await c.close()
    return phase


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--requests", type=int, default=3000, help="per phase")
    ap.add_argument("--seconds", type=float, default=30.0, help="per phase, at most")
    ap.add_argument("--rounds", type=int, default=5,
                    help="alternate stella and bare this many times per page (other load on the machine then "
                         "weighs on both sides alike)")
    ap.add_argument("--keep", type=Path, help="build the appliance here and keep it (default: a temp dir)")
    args = ap.parse_args()

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="stella-bench-console-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        home, real = build(workdir)
        port = free_port()
        procs.append(start_stella(home, port))
        base = f"http://127.0.0.1:{port}"
        cookies, headers, how = authenticate(base, home)
        pages = [("pipeline /", "/"), ("promotions list /promotions", "/promotions"),
                 (f"promotion /promotions/{real}", f"/promotions/{real}")]
        sizes = []
        with httpx.Client(base_url=base, cookies=cookies, headers=headers, timeout=30.0) as c:
            for _, path in pages:
                r = c.get(path)
                sizes.append(len(r.content))
                print(f"  {path}: {r.status_code}, {len(r.content):,} bytes", file=sys.stderr)
        bare_port = free_port()
        procs.append(start_bare(bare_port, sizes))

        print(f"{RELEASES:,} releases, {PROMOTIONS:,} promotions, {AUDIT_EVENTS:,} audit events (synthetic rows); "
              f"{args.clients} clients, <= {args.requests} requests or {args.seconds:g}s per phase "
              f"in {max(1, args.rounds)} rounds alternating with the bare route; "
              f"authenticated by {how}; one uvicorn process each, HTTP on 127.0.0.1")
        ratios = []
        rounds = max(1, args.rounds)
        for i, (name, path) in enumerate(pages):
            ours, bare = Phase(f"stella  {name}"), Phase(f"bare    same size ({sizes[i]:,} B)")
            for _ in range(rounds):
                asyncio.run(run_phase(ours, base + path, args.clients, args.requests // rounds,
                                      args.seconds / rounds, cookies, headers))
                asyncio.run(run_phase(bare, f"http://127.0.0.1:{bare_port}/p/{i}", args.clients,
                                      args.requests // rounds, args.seconds / rounds, {}, {}))
            ratio = ours.pct(0.95) / bare.pct(0.95)
            ratios.append(ratio)
            print(ours.line())
            print(bare.line())
            print(f"  p95 ratio stella/bare = {ratio:.2f}"
                  + (f"   (goal p95 < 50 ms: {'met' if ours.pct(0.95) < 50 else 'NOT met'})" if i == 0 else ""))
        print(f"p95 ratios: {', '.join(f'{r:.2f}' for r in ratios)}; median {statistics.median(ratios):.2f} "
              f"(goal <= 3: {'met' if max(ratios) <= 3 else 'NOT met'})")
    finally:
        for p in procs:
            stop(p)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
