"""The ``script`` step's runner: a command in a container from an image that came in a kit.

The container gets no network (``network_mode=none``), a read-only root with a small
``/tmp`` tmpfs, a memory limit (no swap), no new privileges, no capabilities, a pids limit
and a time limit: at the deadline it is killed. Its output (stdout and stderr, interleaved)
is streamed into the step log: the first ``log_limit`` bytes are kept, then one marker line
``[log truncated after N bytes; M bytes in all]``; nothing is held whole in memory.

Resume (the step type's ``reattach``): the container's name is the step attempt's key. When
a container of that name exists, ``run`` waits for it instead of starting another (the time
limit counts from the container's own start), writes its log from the engine's copy, takes
its exit code and removes it. Before removing it the result is written beside the log
(``<log>.result.json``), so a call made after that (the appliance stopped between the removal
and the caller's commit) returns the recorded result and never runs the script twice.
docs/workflows.md "Script steps".
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import math
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

import docker
import docker.errors
import requests.exceptions
import sqlite_utils
from docker.types import LogConfig

from appliance.deploy import engine, plan
from appliance.deploy.errors import EngineDown
from appliance.errors import ScriptImageUnknown
from appliance.home import Home
from appliance.registry import config as registry_config
from appliance.registry.names import split_reference

KIB, MIB, GIB = 1024, 1024 ** 2, 1024 ** 3
DEFAULT_MEMORY = 256 * MIB
DEFAULT_TIMEOUT = 600
DEFAULT_LOG_LIMIT = MIB
PIDS_LIMIT = 256
TMPFS_SIZE = 64 * MIB                  # at most; never more than the memory limit (tmpfs pages count in it)
ENGINE_LOG_MAX = 64 * MIB              # the engine's own copy of the output (json-file), what a re-attach reads
LABEL = "stella.script"
_UNITS = {"Ki": KIB, "Mi": MIB, "Gi": GIB}
_SIZE = re.compile(r"^([1-9][0-9]{0,5})(Ki|Mi|Gi)$")
_IMAGE = re.compile(r"^(?P<name>[a-z0-9][a-z0-9._/:-]{0,255})@(?P<digest>sha256:[0-9a-f]{64})$")
_DOCKER_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$")
_TRANSPORT = (docker.errors.DockerException, requests.exceptions.RequestException, OSError)
_KILL_GRACE = 30                       # seconds to wait for a killed container and for its last output


@dataclass(frozen=True)
class ScriptSpec:
    image: str                         # repo@sha256:<64 hex> as the template writes it
    command: tuple[str, ...]
    env: Mapping[str, str]
    memory: int                        # bytes (default 256 MiB)
    timeout: float                     # seconds (the step's timeout; default 600)
    log_limit: int                     # bytes of log kept (default 1 MiB)


@dataclass(frozen=True)
class ScriptResult:
    exit_code: int | None              # None when it was killed at the time limit
    timed_out: bool
    log_bytes: int                     # what the script printed in all
    log_kept: int                      # bytes in the log file
    log_sha256: str                    # "sha256:<hex>" of the log file as kept
    reattached: bool                   # True when this call did not start the script (see run)
    oom_killed: bool = False           # the kernel killed it at the memory limit (exit code 137)


def parse_size(text: str) -> int:
    """``256Mi`` → bytes (the script type's ``memory`` and ``logLimit`` syntax)."""
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"not a size like 256Mi: {text!r}")
    return int(m.group(1)) * _UNITS[m.group(2)]


def spec_from_settings(settings: Mapping[str, Any], timeout: int | None) -> ScriptSpec:
    """The step's ``with`` (already validated against kit/workflow/steps/script.py) and its
    envelope's ``timeout`` in seconds (None: the default, 600 s)."""
    image = str(settings["image"])
    if not _IMAGE.match(image):
        raise ValueError(f"script image must be pinned by digest (name@sha256:…): {image!r}")
    command = tuple(str(part) for part in settings["command"])
    if not command:
        raise ValueError("script command is empty")
    env = {str(k): str(v) for k, v in dict(settings.get("env") or {}).items()}
    memory = parse_size(str(settings["memory"])) if settings.get("memory") else DEFAULT_MEMORY
    log_limit = parse_size(str(settings["logLimit"])) if settings.get("logLimit") else DEFAULT_LOG_LIMIT
    return ScriptSpec(image, command, env, memory, float(timeout if timeout else DEFAULT_TIMEOUT), log_limit)


def imported_image(db: sqlite_utils.Database, image: str) -> tuple[str, str]:
    """(repository in the appliance registry, digest) of *image*, which a kit must have carried.

    The digest decides (it names the content); of the repositories that digest was imported
    under, the one the reference names is preferred.

    Raises:
        ScriptImageUnknown: no imported kit carried that digest.
    """
    m = _IMAGE.match(image)
    if not m:
        raise ScriptImageUnknown(f"script image {image} is not pinned by digest (name@sha256:…)")
    digest = m.group("digest")
    wanted, _tag = split_reference(m.group("name"))
    rows = db.execute("SELECT DISTINCT repository FROM images WHERE digest = ? ORDER BY repository",
                      [digest]).fetchall()
    if not rows:
        raise ScriptImageUnknown(f"script image {image} did not come in any imported kit "
                                 "(a script runs only images a kit carried; import the kit that holds it)")
    repos = [str(r[0]) for r in rows]
    return (wanted if wanted in repos else repos[0]), digest


def run(home: Home, db: sqlite_utils.Database, docker_url: str, name: str, spec: ScriptSpec,
        log_path: Path, *, registry: str | None = None) -> ScriptResult:
    """Run the script in container *name*, or re-attach to it; the log goes to *log_path*.

    *registry* is the appliance registry's address as the engine reaches it (default: the
    home's registry setting). ``reattached`` is True when this call started nothing: it
    waited for an existing container of that name, or returned the result recorded beside
    the log by an earlier call that had already removed its container.

    Raises:
        ScriptImageUnknown: the image did not come in a kit.
        EngineDown: the engine does not answer (the container, if any, keeps running; a
            later call re-attaches). RegistryError, RegistryUnreachable: the image cannot
            be served or pulled.
    """
    repository, digest = imported_image(db, spec.image)
    what = f"script {name}"
    with engine.client(docker_url, what) as c:
        try:
            found = _find(c, name)
            if found is None:
                recorded = _recorded(log_path, name, spec)
                if recorded is not None:
                    return recorded
                plan.seed_digests(home, db, {digest})
                ref = f"{registry or registry_config.load(home).addr}/{repository}@{digest}"
                engine.ensure_images(c, [ref], what)
                try:
                    ctr_id = _create(c, name, ref, spec)
                    return _finish(c, name, ctr_id, spec, log_path, _fresh(c, ctr_id, spec, log_path), False)
                except docker.errors.APIError as exc:
                    if exc.status_code != 409:          # 409: another caller created it just now
                        raise
                    found = _find(c, name)
                    if found is None:
                        raise
            return _finish(c, name, str(found["Id"]), spec, log_path, _reattach(c, found, spec, log_path), True)
        except docker.errors.APIError as exc:
            raise EngineDown(f"{what}: the Docker engine at {docker_url} refused: {_short(exc)}") from None
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            raise EngineDown(f"{what}: the Docker engine at {docker_url} stopped answering ({_short(exc)})") \
                from None


# -- the container ------------------------------------------------------------------------

def _find(c: docker.DockerClient, name: str) -> dict[str, Any] | None:
    """The inspected container called exactly *name*, or None."""
    try:
        attrs = c.api.inspect_container(name)
    except docker.errors.NotFound:
        return None
    return attrs if str(attrs.get("Name", "")).lstrip("/") == name else None


def _create(c: docker.DockerClient, name: str, ref: str, spec: ScriptSpec) -> str:
    tmpfs_size = min(TMPFS_SIZE, spec.memory)
    engine_log = min(max(16 * spec.log_limit, 16 * MIB), ENGINE_LOG_MAX)
    ctr = c.containers.create(
        ref, command=list(spec.command), name=name, environment=dict(spec.env),
        network_mode="none", read_only=True, tmpfs={"/tmp": f"rw,nosuid,nodev,size={tmpfs_size}"},
        mem_limit=spec.memory, memswap_limit=spec.memory,          # the same: no swap beyond the limit
        security_opt=["no-new-privileges"], cap_drop=["ALL"], pids_limit=PIDS_LIMIT,
        stdin_open=False, tty=False, labels={LABEL: "1", f"{LABEL}.image": spec.image},
        # The engine's copy is bounded on its disk too; the appliance's log is read live.
        log_config=LogConfig(type="json-file", config={"max-size": str(engine_log), "max-file": "1"}))
    return str(ctr.id)


@dataclass(frozen=True)
class _Outcome:
    exit_code: int | None
    timed_out: bool
    oom_killed: bool
    log_bytes: int
    log_kept: int
    log_sha256: str


def _fresh(c: docker.DockerClient, ctr_id: str, spec: ScriptSpec, log_path: Path) -> _Outcome:
    """Attach first, then start: the output is read live (the container waits when the log
    reader is slow, so every byte is counted and the head is never lost to rotation)."""
    stream = c.api.attach(ctr_id, stdout=True, stderr=True, stream=True, logs=False)
    try:
        with _Log(log_path, spec.log_limit) as log:
            reader = log.read_in_thread(stream)
            try:
                c.api.start(ctr_id)
            except docker.errors.APIError as exc:
                if not exc.is_client_error():
                    raise
                # The engine could not exec the command (not in the image, not executable): the
                # script failed as a shell would report it, and the log says why.
                stream.close()
                reader.join(5.0)
                log.note(f"[the script did not start: {_short(exc)}]")
                return _outcome(c, ctr_id, 127 if "not found" in str(exc) else 126, False, log)
            code, timed_out = _wait(c, ctr_id, time.monotonic() + spec.timeout)
            _join(reader, stream)
            return _outcome(c, ctr_id, code, timed_out, log)
    finally:
        stream.close()


def _reattach(c: docker.DockerClient, attrs: dict[str, Any], spec: ScriptSpec, log_path: Path) -> _Outcome:
    """Wait for a container an earlier call started (or only created), the time limit
    counting from its own start; the log is rewritten from the engine's copy."""
    ctr_id = str(attrs["Id"])
    state = attrs.get("State") or {}
    if state.get("Status") == "created":                 # stopped between create and start
        return _fresh(c, ctr_id, spec, log_path)
    started = _docker_time(str(state.get("StartedAt", "")))
    ran = (dt.datetime.now(dt.UTC) - started).total_seconds() if started else 0.0
    running = bool(state.get("Running"))
    stream = c.api.logs(ctr_id, stdout=True, stderr=True, stream=True, follow=running)
    try:
        with _Log(log_path, spec.log_limit) as log:
            reader = log.read_in_thread(stream)
            code, timed_out = _wait(c, ctr_id, time.monotonic() + spec.timeout - ran)
            if not running and code == 137 and not state.get("OOMKilled"):
                timed_out = _lasted(state) >= spec.timeout - 1.0   # killed at the deadline before the stop
                code = None if timed_out else code
            _join(reader, stream)
            return _outcome(c, ctr_id, code, timed_out, log)
    finally:
        stream.close()


def _wait(c: docker.DockerClient, ctr_id: str, deadline: float) -> tuple[int | None, bool]:
    """(exit code, False) when it ends by itself before *deadline*; (None, True) when killed there."""
    remaining = deadline - time.monotonic()
    if remaining > 0:
        try:
            return int(c.api.wait(ctr_id, timeout=math.ceil(remaining))["StatusCode"]), False
        except (requests.exceptions.Timeout, requests.exceptions.ConnectionError):
            # A read timeout (urllib3 may report it as a connection error): is the engine still there?
            c.api.inspect_container(ctr_id)
    try:
        c.api.kill(ctr_id)
    except docker.errors.APIError as exc:
        if exc.status_code != 409:                      # 409: it is not running (it ended just now)
            raise
        return int(c.api.wait(ctr_id, timeout=_KILL_GRACE)["StatusCode"]), False
    c.api.wait(ctr_id, timeout=_KILL_GRACE)
    return None, True


def _outcome(c: docker.DockerClient, ctr_id: str, code: int | None, timed_out: bool, log: _Log) -> _Outcome:
    state = c.api.inspect_container(ctr_id).get("State") or {}
    kept, sha = log.close()
    return _Outcome(code, timed_out, bool(state.get("OOMKilled")) and not timed_out, log.total, kept, sha)


def _finish(c: docker.DockerClient, name: str, ctr_id: str, spec: ScriptSpec, log_path: Path, out: _Outcome,
            reattached: bool) -> ScriptResult:
    """Record the result beside the log, then remove the container (in that order: a stop in
    between leaves a result to return, never a script to run again)."""
    result = ScriptResult(out.exit_code, out.timed_out, out.log_bytes, out.log_kept, out.log_sha256, reattached,
                          out.oom_killed)
    _record(log_path, name, spec, result)
    with contextlib.suppress(docker.errors.NotFound):
        c.api.remove_container(ctr_id, force=True)
    return result


def _join(reader: threading.Thread, stream: Any) -> None:
    """The container has stopped, so its output ends soon; if the stream hangs, close it."""
    reader.join(_KILL_GRACE)
    if reader.is_alive():
        with contextlib.suppress(OSError):
            stream.close()
        reader.join(5.0)


def _short(exc: BaseException) -> str:
    text = str(exc).replace("\n", " ")
    return text if len(text) < 300 else text[:300] + "…"


def _docker_time(text: str) -> dt.datetime | None:
    """An engine timestamp (RFC 3339 with nanoseconds); None for the zero time or junk."""
    m = _DOCKER_TIME.match(text)
    if not m or text.startswith("0001-"):
        return None
    frac = (m.group(2) or "0")[:6].ljust(6, "0")
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    return dt.datetime.fromisoformat(f"{m.group(1)}.{frac}{zone}")


def _lasted(state: Mapping[str, Any]) -> float:
    start, end = _docker_time(str(state.get("StartedAt", ""))), _docker_time(str(state.get("FinishedAt", "")))
    return (end - start).total_seconds() if start and end else 0.0


# -- the log ------------------------------------------------------------------------------

class _Log:
    """The first *limit* bytes of the output in a file, the rest only counted."""

    def __init__(self, path: Path, limit: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.limit = path, limit
        self.total = 0
        self._kept = 0
        self._last = b"\n"
        self._hash = hashlib.sha256()
        # unbuffered: the log is live on disk while the script runs (a tail shows progress)
        self._file: IO[bytes] | None = path.open("wb", buffering=0)
        self._closed: tuple[int, str] | None = None
        self.error: BaseException | None = None

    def __enter__(self) -> _Log:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            self._file.close()

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = self.limit - self._kept
        if room > 0 and data and self._file is not None:
            part = data[:room]
            self._file.write(part)
            self._hash.update(part)
            self._kept += len(part)
            self._last = part[-1:]

    def note(self, text: str) -> None:
        """A line of the appliance's own (counted like output, so the log's figures stay consistent)."""
        self.add(("" if self._last == b"\n" else "\n").encode() + text.encode() + b"\n")

    def read_in_thread(self, chunks: Iterable[bytes]) -> threading.Thread:
        def pump() -> None:
            try:
                for chunk in chunks:
                    self.add(chunk)
            except (*_TRANSPORT, ValueError) as exc:   # the stream or the file closed under it, the engine went away
                self.error = exc

        reader = threading.Thread(target=pump, name="script-log", daemon=True)
        reader.start()
        return reader

    def close(self) -> tuple[int, str]:
        """Add the truncation marker if needed, fsync; (bytes in the file, sha256 of the file)."""
        if self._closed is None:
            assert self._file is not None
            if self.total > self.limit:
                marker = b"" if self._last == b"\n" else b"\n"
                marker += f"[log truncated after {self.limit} bytes; {self.total} bytes in all]\n".encode()
                self._file.write(marker)
                self._hash.update(marker)
                self._kept += len(marker)
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
            self._closed = (self._kept, "sha256:" + self._hash.hexdigest())
        return self._closed


def _result_path(log_path: Path) -> Path:
    return log_path.with_name(log_path.name + ".result.json")


def _spec_digest(spec: ScriptSpec) -> str:
    doc = {"image": spec.image, "command": list(spec.command), "env": dict(sorted(spec.env.items())),
           "memory": spec.memory, "timeout": spec.timeout, "logLimit": spec.log_limit}
    return "sha256:" + hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _record(log_path: Path, name: str, spec: ScriptSpec, result: ScriptResult) -> None:
    path = _result_path(log_path)
    tmp = path.with_name(path.name + ".tmp")
    doc = {"container": name, "spec": _spec_digest(spec), "result": asdict(result)}
    with tmp.open("w", encoding="utf-8") as f:
        json.dump(doc, f, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _recorded(log_path: Path, name: str, spec: ScriptSpec) -> ScriptResult | None:
    """The result an earlier call recorded for container *name* and this spec, if its log is
    still as it left it."""
    try:
        doc = json.loads(_result_path(log_path).read_text(encoding="utf-8"))
        if doc.get("container") != name or doc.get("spec") != _spec_digest(spec):
            return None
        fields = dict(doc["result"])
        fields["reattached"] = True
        result = ScriptResult(**fields)
        if _file_digest(log_path) != result.log_sha256:
            return None
        return result
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in _blocks(f):
            h.update(block)
    return "sha256:" + h.hexdigest()


def _blocks(f: IO[bytes]) -> Iterator[bytes]:
    while block := f.read(1 << 20):
        yield block
