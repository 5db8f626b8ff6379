"""The estate: several Docker hosts on this machine, for multi-host tests (Swarm, agents).

``scripts/estate.sh`` makes each host a network namespace with its own dockerd, joins them
on a LAN (10.77.0.0/24, a bridge in a namespace of its own) and, with ``--swarm``, makes a
real Swarm across them (host 1 the manager). A further namespace, with no engine, stands
for the appliance (10.77.0.254). Every non-loopback address lives in those namespaces, so
the tests never send traffic anywhere else.

The session fixture :func:`estate` starts it once (only when a test asks for it) and tears
everything down at the end of the session, also after failures: containers, dockerds,
namespaces, veths. It needs root; under ``CI=true`` anything missing is a failure, else a
skip. :meth:`Estate.publish` makes a service of the test session's loopback (the appliance
registry) reachable from the hosts at the appliance's LAN address: a listening socket made
inside the appliance namespace (``setns`` on one thread), each connection relayed to the
loopback port — no process, no address in the machine's own namespace.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import IN_CI, ROOT

SCRIPT = ROOT / "scripts" / "estate.sh"
HOSTS = 3                                  # three engines, all in the Swarm
APPLIANCE_ADDR = "10.77.0.254"
_CLONE_NEWNET = 0x40000000


@dataclass
class Estate:
    dir: Path
    hosts: dict[int, str]                  # host number → unix://…/docker.sock
    addrs: dict[int, str]                  # host number → LAN address
    appliance_netns: str
    prefix: str
    start_seconds: float = 0.0
    _listeners: list[socket.socket] = field(default_factory=list)
    _published: dict[int, int] = field(default_factory=dict)      # LAN port → loopback port

    @property
    def manager(self) -> str:
        """The Swarm manager's engine (host 1)."""
        return self.hosts[1]

    def netns(self, host: int) -> str:
        return f"/var/run/netns/{self.prefix}h{host}"

    def publish(self, loopback_port: int, port: int) -> str:
        """Make ``127.0.0.1:loopback_port`` of this process reachable at ``10.77.0.254:port``
        from every host; returns that address (publishing the same pair again is a no-op)."""
        if port in self._published:
            if self._published[port] != loopback_port:
                raise RuntimeError(f"{APPLIANCE_ADDR}:{port} already relays to 127.0.0.1:{self._published[port]}")
            return f"{APPLIANCE_ADDR}:{port}"
        listener = _listen_in(self.appliance_netns, (APPLIANCE_ADDR, port))
        self._published[port] = loopback_port
        self._listeners.append(listener)
        threading.Thread(target=_accept, args=(listener, loopback_port), daemon=True,
                         name=f"estate-publish-{port}").start()
        return f"{APPLIANCE_ADDR}:{port}"

    def close_published(self) -> None:
        for listener in self._listeners:
            with contextlib.suppress(OSError):
                listener.close()
        self._listeners.clear()
        self._published.clear()


def _listen_in(netns: str, addr: tuple[str, int]) -> socket.socket:
    """A listening TCP socket bound inside *netns* (a socket keeps the namespace it was made
    in; ``setns`` changes only the calling thread, which is a throwaway one here)."""
    made: list[socket.socket | BaseException] = []

    def work() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        try:
            with open(netns, "rb") as target:
                if libc.setns(target.fileno(), _CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns {netns}")
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(addr)
            s.listen(64)
            made.append(s)
        except BaseException as exc:  # noqa: BLE001 — handed to the caller's thread
            made.append(exc)
        # the thread ends here: its namespace goes with it, the process's is untouched

    t = threading.Thread(target=work)
    t.start()
    t.join()
    if isinstance(made[0], BaseException):
        raise made[0]
    return made[0]


def _accept(listener: socket.socket, port: int) -> None:
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", port), timeout=10)
        except OSError:
            conn.close()
            continue
        upstream.settimeout(None)
        for a, b in ((conn, upstream), (upstream, conn)):
            threading.Thread(target=_pump, args=(a, b), daemon=True).start()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


def missing() -> str | None:
    """Why the estate cannot start here, or None."""
    if os.geteuid() != 0:
        return "the estate needs root (network namespaces, dockerd)"
    for tool in ("dockerd", "docker", "nsenter", "ip"):
        if shutil.which(tool) is None:
            return f"the estate needs {tool}"
    return None


def up(directory: Path, hosts: int = HOSTS, swarm: bool = True) -> Estate:
    """Start the estate (an estate left over in *directory* is taken down first)."""
    started = time.monotonic()
    down(directory)
    run = subprocess.run(["bash", str(SCRIPT), "up", str(directory), str(hosts), *(["--swarm"] if swarm else [])],
                         capture_output=True, text=True, timeout=120)
    if run.returncode != 0:
        down(directory)
        raise RuntimeError(f"estate.sh up failed ({run.returncode}): {run.stderr.strip()}")
    env: dict[str, str] = {}
    for line in run.stdout.splitlines():
        for item in line.removeprefix("export ").split():
            key, _, value = item.partition("=")
            env[key] = value
    estate = Estate(directory, {i: env[f"HOST{i}_DOCKER"] for i in range(1, hosts + 1)},
                    {i: env[f"HOST{i}_ADDR"] for i in range(1, hosts + 1)}, env["APPLIANCE_NETNS"],
                    env["NETNS_PREFIX"])
    estate.start_seconds = time.monotonic() - started
    return estate


def down(directory: Path) -> float:
    """Stop everything the estate in *directory* runs; returns the seconds it took."""
    started = time.monotonic()
    subprocess.run(["bash", str(SCRIPT), "down", str(directory)], capture_output=True, timeout=120, check=False)
    return time.monotonic() - started


def reap() -> None:
    """Take down estates left by test sessions that were killed (their pid is gone)."""
    for left in Path("/tmp").glob("stella-estate-*"):
        pid = left.name.rsplit("-", 1)[1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            down(left)


class _Shared:
    """The one estate of this process: every module that imports the fixture gets its own
    session fixture (pytest scopes a fixture by where it is defined), so they share this one
    and the last to finish takes it down."""

    estate: Estate | None = None
    users = 0


@pytest.fixture(scope="session")
def estate() -> Iterator[Estate]:
    """Three hosts in a Swarm (host 1 manager), started once per session, always torn down."""
    why = missing()
    if why:
        if IN_CI:
            pytest.fail(f"{why}, and CI=true requires it")
        pytest.skip(why)
    if _Shared.estate is None:
        reap()
        directory = Path(f"/tmp/stella-estate-{os.getpid()}")       # unix socket paths stay short
        try:
            _Shared.estate = up(directory)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            pytest.fail(f"the estate did not start: {exc}")
    e = _Shared.estate
    _Shared.users += 1
    try:
        yield e
    finally:
        _Shared.users -= 1
        if _Shared.users == 0:
            _Shared.estate = None
            e.close_published()
            took = down(e.dir)
            print(f"\nestate: started in {e.start_seconds:.1f} s, stopped in {took:.1f} s")
