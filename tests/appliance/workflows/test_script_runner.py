"""The ``script`` step's runner on a real dockerd and a real appliance registry: a busybox
image that came in a signed kit runs with no network, a read-only root, a time limit and
a capped log; a killed caller's container is re-attached, never started twice."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import docker
import pytest

from appliance.deploy.errors import EngineDown
from appliance.errors import ScriptImageUnknown
from appliance.home import Home
from appliance.runs import script
from appliance.store.db import connect
from kit.crypto import Signer
from kit.trust.root import TrustRoot
from tests.appliance.deploy.conftest import appliance_registry  # noqa: F401  (fixture)
from tests.appliance.deploy.site import Rel, build_kit, free_port, web
from tests.appliance.helpers import ROOT, stella

pytestmark = pytest.mark.services

MARKER_MAX = 100                      # "[log truncated after N bytes; M bytes in all]\n", with a leading newline


@dataclass(frozen=True)
class Tools:
    home: Path
    docker_host: str
    registry: str
    image: str                        # registry.example/tools/tool@sha256:… as a template writes it
    tmp: Path

    def spec(self, *command: str, timeout: float = 30, log_limit: int = script.DEFAULT_LOG_LIMIT,
             env: dict[str, str] | None = None) -> script.ScriptSpec:
        return script.ScriptSpec(self.image, command, env or {}, script.DEFAULT_MEMORY, timeout, log_limit)

    def run(self, name: str, spec: script.ScriptSpec, log: Path | None = None) -> script.ScriptResult:
        db = connect(self.home / "stella.db")
        try:
            return script.run(Home(self.home), db, self.docker_host, name, spec, log or self.tmp / f"{name}.log")
        finally:
            db.close()


_NAMES = iter(range(1, 10_000))


def name() -> str:
    return f"stella-run-t{os.getpid()}-{next(_NAMES)}"


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory, root: TrustRoot, signer: Signer, docker_host: str,
          appliance_registry: str) -> Iterator[Tools]:  # noqa: F811
    tmp = tmp_path_factory.mktemp("script")
    trust = tmp / "trust.json"
    trust.write_bytes(root.envelope.to_bytes())
    home = tmp / "home"
    r = stella("init", "--trust", str(trust), "--registry-addr", appliance_registry, home=home)
    assert r.exit_code == 0, r.output
    kit = build_kit(tmp, signer, [Rel("tools", "1.0", {"tool": web(free_port())}, {"tool": "script-tools"})])
    r = stella("import", str(kit), home=home)
    assert r.exit_code == 0, r.output
    db = connect(home / "stella.db")
    digest = db.execute("SELECT digest FROM images WHERE repository = 'tools/tool'").fetchone()[0]
    db.close()
    t = Tools(home, docker_host, appliance_registry, f"registry.example/tools/tool@{digest}", tmp)
    # the first run seeds the appliance registry and pulls onto the engine: later timings are the script's
    assert t.run(name(), t.spec("sh", "-c", "exit 0")).exit_code == 0
    yield t
    client = docker.DockerClient(base_url=docker_host)
    for ctr in client.containers.list(all=True, filters={"label": script.LABEL}):
        if ctr.name and ctr.name.startswith(f"stella-run-t{os.getpid()}-"):
            ctr.remove(force=True)
    client.close()


def containers(t: Tools, name: str) -> list[str]:
    client = docker.DockerClient(base_url=t.docker_host)
    try:
        return [str(c.name) for c in client.containers.list(all=True, filters={"name": f"^/{name}$"})]
    finally:
        client.close()


def sha256_file(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def test_exit_code_zero_keeps_the_output_and_removes_the_container(tools: Tools) -> None:
    n = name()
    log = tools.tmp / f"{n}.log"
    res = tools.run(n, tools.spec("sh", "-c", "echo hello; echo $GREETING >&2", env={"GREETING": "from env"}), log)
    assert (res.exit_code, res.timed_out, res.reattached) == (0, False, False)
    assert sorted(log.read_bytes().splitlines()) == [b"from env", b"hello"]     # both streams, either order
    assert (res.log_bytes, res.log_kept, res.log_sha256) == (15, 15, sha256_file(log))
    assert containers(tools, n) == []


def test_a_failing_script_gives_its_exit_code(tools: Tools) -> None:
    res = tools.run(name(), tools.spec("sh", "-c", "echo broken; exit 3"))
    assert (res.exit_code, res.timed_out) == (3, False)


def test_a_command_the_image_does_not_hold_fails_like_a_shell_says(tools: Tools) -> None:
    n = name()
    res = tools.run(n, tools.spec("dbcheck", "--dry-run"))
    assert (res.exit_code, res.timed_out) == (127, False)
    text = (tools.tmp / f"{n}.log").read_text()
    assert text.startswith("[the script did not start: ") and "dbcheck" in text
    assert containers(tools, n) == []


def test_a_script_that_never_ends_is_killed_at_the_time_limit(tools: Tools) -> None:
    n = name()
    started = time.monotonic()
    res = tools.run(n, tools.spec("sh", "-c", "echo waiting; busybox sleep 60", timeout=2))
    took = time.monotonic() - started
    assert (res.exit_code, res.timed_out) == (None, True)
    assert 2 <= took < 5, took
    assert (tools.tmp / f"{n}.log").read_bytes() == b"waiting\n"
    assert containers(tools, n) == []


def _vm(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(field)


def test_a_script_printing_without_end_keeps_only_the_log_limit(tools: Tools) -> None:
    n = name()
    log = tools.tmp / f"{n}.log"
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")        # the peak counts from here
    before = _vm("VmRSS")
    res = tools.run(n, tools.spec("busybox", "yes", timeout=5, log_limit=64 * 1024), log)
    peak = _vm("VmHWM")
    assert res.timed_out
    data = log.read_bytes()
    assert 64 * 1024 < len(data) <= 64 * 1024 + MARKER_MAX
    assert data[:64 * 1024] == b"y\n" * (32 * 1024)
    assert data[64 * 1024:] == f"[log truncated after 65536 bytes; {res.log_bytes} bytes in all]\n".encode()
    assert res.log_kept == len(data) and res.log_sha256 == sha256_file(log)
    assert res.log_bytes > 16 * 64 * 1024, res.log_bytes        # it printed far more than was kept
    assert peak - before < 64 * 1024 * 1024, (before, peak)     # and the appliance never held it


def test_the_script_has_no_network(tools: Tools) -> None:
    n = name()
    log = tools.tmp / f"{n}.log"
    host, port = tools.registry.split(":")
    # stderr into stdout in the script: the engine keeps the two streams' order only within each
    cmd = (f"exec 2>&1; busybox wget -q -T 3 -O - http://{tools.registry}/v2/ && echo wget-reached; "
           f"busybox nc -w 3 {host} {port} </dev/null && echo nc-reached; "
           "echo net:; busybox ls /sys/class/net")
    res = tools.run(n, tools.spec("sh", "-c", cmd))
    out = log.read_text()
    assert res.exit_code == 0, out
    assert "reached" not in out
    assert out.split("net:\n", 1)[1].split() == ["lo"]


def test_the_root_is_read_only_and_the_process_unprivileged(tools: Tools) -> None:
    n = name()
    log = tools.tmp / f"{n}.log"
    cmd = ("exec 2>&1; busybox touch /x && echo root-writable; busybox touch /tmp/x && echo tmp-writable; "
           "busybox grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; "
           "busybox cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max 2>/dev/null; true")
    res = tools.run(n, tools.spec("sh", "-c", cmd))
    out = log.read_text()
    assert res.exit_code == 0, out
    assert "root-writable" not in out and "Read-only file system" in out
    assert "tmp-writable" in out                               # the small /tmp tmpfs
    assert "CapEff:\t0000000000000000" in out and "NoNewPrivs:\t1" in out
    if "max" in out or str(script.DEFAULT_MEMORY) in out:       # cgroup v2: the limits as the kernel sees them
        assert str(script.DEFAULT_MEMORY) in out and str(script.PIDS_LIMIT) in out


def test_an_image_no_kit_carried_is_refused(tools: Tools) -> None:
    n = name()
    spec = replace(tools.spec("true"), image="registry.example/tools/tool@sha256:" + "ab" * 32)
    with pytest.raises(ScriptImageUnknown) as err:
        tools.run(n, spec)
    assert err.value.kind == "script-image-unknown" and err.value.exit_code == 1
    assert spec.image in str(err.value)
    assert containers(tools, n) == []


def test_an_engine_that_does_not_answer_is_engine_down(tools: Tools) -> None:
    db = connect(tools.home / "stella.db")
    try:
        with pytest.raises(EngineDown) as err:
            script.run(Home(tools.home), db, f"unix://{tools.tmp}/no.sock", name(), tools.spec("true"),
                       tools.tmp / "down.log")
    finally:
        db.close()
    assert err.value.kind == "engine-unreachable"


RUNNER = """
import json, sys
from pathlib import Path
from appliance.home import Home
from appliance.runs import script
from appliance.store.db import connect
home, url, name, log, image = sys.argv[1:6]
spec = script.ScriptSpec(image, tuple(json.loads(sys.argv[6])), {}, script.DEFAULT_MEMORY, float(sys.argv[7]),
                         script.DEFAULT_LOG_LIMIT)
script.run(Home(Path(home)), connect(Path(home) / "stella.db"), url, name, spec, Path(log))
"""


def _killed_caller(t: Tools, n: str, command: list[str], timeout: float, until: str) -> None:
    """`run` in another process, SIGKILLed once its container printed *until*."""
    log = t.tmp / f"{n}.log"
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, str(t.home), t.docker_host, n, str(log), t.image,
                             json.dumps(command), str(timeout)], env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        deadline = time.monotonic() + 30
        while not (log.exists() and until in log.read_text()):
            assert proc.poll() is None, "the runner ended before it was killed"
            assert time.monotonic() < deadline, "the script never started"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert containers(t, n) == [n]                             # the killed caller's container runs on


def test_a_killed_callers_container_is_reattached_not_started_again(tools: Tools) -> None:
    n = name()
    log = tools.tmp / f"{n}.log"
    cmd = ["sh", "-c", "echo started; busybox sleep 2; echo finished; exit 7"]
    _killed_caller(tools, n, cmd, 60, "started")
    res = tools.run(n, tools.spec(*cmd, timeout=60), log)
    assert (res.exit_code, res.timed_out, res.reattached) == (7, False, True)
    assert log.read_bytes() == b"started\nfinished\n"           # once: the script ran once
    assert res.log_sha256 == sha256_file(log)
    assert containers(tools, n) == []
    # a call after the result was taken (the caller stopped before recording it) runs nothing again
    started = time.monotonic()
    again = tools.run(n, tools.spec(*cmd, timeout=60), log)
    assert time.monotonic() - started < 2
    assert again == res and containers(tools, n) == []


def test_a_reattached_script_keeps_its_deadline_from_its_own_start(tools: Tools) -> None:
    n = name()
    cmd = ["sh", "-c", "echo started; busybox sleep 60"]
    began = time.monotonic()
    _killed_caller(tools, n, cmd, 4, "started")
    res = tools.run(n, tools.spec(*cmd, timeout=4))
    took = time.monotonic() - began
    assert (res.exit_code, res.timed_out, res.reattached) == (None, True, True)
    assert took < 10, took                                     # 4 s from the container's start, not from now
    assert containers(tools, n) == []


def test_settings_and_defaults() -> None:
    image = "registry.local/tools/dbcheck@sha256:" + "5b" * 32
    spec = script.spec_from_settings({"image": image, "command": ["dbcheck", "--dry-run"]}, None)
    assert spec == script.ScriptSpec(image, ("dbcheck", "--dry-run"), {}, 256 * 1024 ** 2, 600.0, 1024 ** 2)
    spec = script.spec_from_settings({"image": image, "command": ["x"], "env": {"A": "1"}, "memory": "1Gi",
                                      "logLimit": "64Ki"}, 90)
    assert (spec.env, spec.memory, spec.timeout, spec.log_limit) == ({"A": "1"}, 1024 ** 3, 90.0, 64 * 1024)
    with pytest.raises(ValueError):
        script.spec_from_settings({"image": "busybox:latest", "command": ["x"]}, None)


def _started_by_a_gone_caller(t: Tools, n: str, spec: script.ScriptSpec, *, start: bool) -> None:
    """The container an appliance created (and started) before it was SIGKILLed."""
    db = connect(t.home / "stella.db")
    client = docker.DockerClient(base_url=t.docker_host)
    try:
        repository, digest = script.imported_image(db, spec.image)
        ctr_id = script._create(client, n, f"{t.registry}/{repository}@{digest}", spec)
        if start:
            client.api.start(ctr_id)
            client.api.wait(ctr_id, timeout=30)
    finally:
        client.close()
        db.close()


def test_a_container_that_finished_while_nobody_watched_gives_its_result(tools: Tools) -> None:
    n = name()
    log = tools.tmp / f"{n}.log"
    spec = tools.spec("sh", "-c", "echo done; exit 4")
    _started_by_a_gone_caller(tools, n, spec, start=True)
    res = tools.run(n, spec, log)
    assert (res.exit_code, res.timed_out, res.reattached) == (4, False, True)
    assert log.read_bytes() == b"done\n"
    assert containers(tools, n) == []


def test_a_container_created_but_never_started_is_started_once(tools: Tools) -> None:
    n = name()
    log = tools.tmp / f"{n}.log"
    spec = tools.spec("sh", "-c", "echo once; exit 5")
    _started_by_a_gone_caller(tools, n, spec, start=False)
    res = tools.run(n, spec, log)
    assert (res.exit_code, res.reattached) == (5, True)
    assert log.read_bytes() == b"once\n"
    assert containers(tools, n) == []


def test_a_script_over_its_memory_limit_is_killed_by_the_kernel(tools: Tools) -> None:
    spec = replace(tools.spec("sh", "-c", "x=$(busybox head -c 200000000 /dev/zero | busybox tr '\\0' a); echo kept"),
                   memory=32 * 1024 * 1024)
    res = tools.run(name(), spec)
    assert (res.exit_code, res.timed_out, res.oom_killed) == (137, False, True)
