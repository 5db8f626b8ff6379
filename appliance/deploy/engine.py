"""A target's Docker engine through the docker SDK: reachability, pulls by digest, the
project's containers as drift sees them, and the version sticker volume.

The sticker lives in a labelled named volume (``stella-sticker-<project>``, labels
``stella.sticker=1`` and ``stella.project``): it works on any engine, local or remote,
with no host path. It is written and read through a container that is created, never
started (``put_archive`` / ``get_archive`` reach the volume mounted in it).
"""

from __future__ import annotations

import atexit
import contextlib
import io
import tarfile
import threading
from collections.abc import Iterable, Iterator

import docker
import docker.errors
import requests.exceptions
from docker.models.containers import Container

from appliance.deploy.errors import EngineDown, RegistryUnreachable, StickerUnreachable, StickerWriteFailed
from kit.deploy.drift import Observed
from kit.deploy.sticker import STICKER_NAME
from kit.registryhost import plain_http_by_default

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
STICKER_DIR = "/stella"
_TRANSPORT = (docker.errors.DockerException, requests.exceptions.RequestException, OSError)


def sticker_volume(project: str) -> str:
    return f"stella-sticker-{project}"


_CLIENTS: dict[tuple[str, int, int], docker.DockerClient] = {}


def _close_clients() -> None:
    while _CLIENTS:
        _CLIENTS.popitem()[1].close()


atexit.register(_close_clients)


@contextlib.contextmanager
def client(url: str, what: str, timeout: int = 20) -> Iterator[docker.DockerClient]:
    """A client for the engine at *url*, pinged first (every time).

    One client per (engine, timeout) is kept for the life of the process, so a deploy
    does not create a client (and ask the engine for its API version) at each step;
    a client whose engine stops answering is dropped.

    Raises:
        EngineDown: the engine does not answer.
    """
    key = (url, timeout, threading.get_ident())      # requests sessions are not shared between threads
    try:
        c = _CLIENTS.get(key)
        if c is None:
            c = docker.DockerClient(base_url=url, timeout=timeout)
            _CLIENTS[key] = c
        c.ping()
    except _TRANSPORT as exc:
        dropped = _CLIENTS.pop(key, None)
        if dropped is not None:
            dropped.close()
        raise EngineDown(f"{what}: the Docker engine at {url} does not answer ({_short(exc)})") from None
    yield c


def _short(exc: BaseException) -> str:
    text = str(exc).replace("\n", " ")
    return text if len(text) < 200 else text[:200] + "…"


def _plain_http_hint(ref: str) -> str:
    """Why a pull from a non-loopback appliance registry may fail: it speaks plain HTTP, which
    Docker uses unasked only for loopback registries (kit.registryhost)."""
    registry = ref.split("/", 1)[0]
    if plain_http_by_default(registry):
        return ""
    return (f"; note: the appliance registry speaks plain HTTP, which Docker uses for {registry} "
            "only when its daemon.json lists it in insecure-registries")


def ensure_images(c: docker.DockerClient, refs: Iterable[str], what: str) -> list[str]:
    """Pull every ``registry/repo@sha256:…`` the engine does not hold yet; returns those pulled.

    Raises:
        DeployError: kind ``registry-unreachable`` naming the reference and the engine's answer.
    """
    pulled = []
    for ref in sorted(set(refs)):
        try:
            c.images.get(ref)
            continue
        except docker.errors.ImageNotFound:
            pass
        except _TRANSPORT as exc:
            raise EngineDown(f"{what}: the Docker engine stopped answering ({_short(exc)})") from None
        try:
            repo, digest = ref.split("@", 1)
            c.images.pull(repo, tag=digest)
        except _TRANSPORT as exc:
            raise RegistryUnreachable(f"{what}: the engine cannot pull {ref} from the appliance registry "
                                      f"({_short(exc)}){_plain_http_hint(ref)}") from None
        pulled.append(ref)
    return pulled


def _digests(c: docker.DockerClient, image_id: str, cache: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    if image_id not in cache:
        try:
            repo_digests = c.images.get(image_id).attrs.get("RepoDigests") or []
        except docker.errors.ImageNotFound:
            repo_digests = []
        cache[image_id] = tuple(sorted({d.split("@", 1)[1] for d in repo_digests if "@" in d}))
    return cache[image_id]


def observe(c: docker.DockerClient, project: str,
            digests: dict[str, tuple[str, ...]] | None = None) -> list[Observed]:
    """The project's containers (every state), sorted by name; *digests* keeps the image
    digests read (by image id) for the next call."""
    cache = digests if digests is not None else {}
    out = []
    for ctr in c.containers.list(all=True, filters={"label": f"{PROJECT_LABEL}={project}"}):
        state = ctr.attrs.get("State") or {}
        health = (state.get("Health") or {}).get("Status")
        labels = dict(ctr.attrs.get("Config", {}).get("Labels") or {})
        out.append(Observed(ctr.name or "", labels.get(SERVICE_LABEL, ""), str(state.get("Status", "unknown")),
                            health, _digests(c, str(ctr.attrs.get("Image", "")), cache), labels))
    return sorted(out, key=lambda o: o.name)


def _carrier_image(c: docker.DockerClient, refs: Iterable[str]) -> str:
    """An image present on the engine to create the (never started) sticker container from."""
    for ref in refs:
        try:
            return str(c.images.get(ref).id)
        except docker.errors.ImageNotFound:
            continue
    for image in c.images.list():
        return str(image.id)
    raise StickerUnreachable("no image on the engine to reach the sticker volume with")


@contextlib.contextmanager
def _volume_container(c: docker.DockerClient, project: str, refs: Iterable[str]) -> Iterator[Container]:
    ctr = c.containers.create(_carrier_image(c, refs), command=["stella-sticker"], network_mode="none",
                              volumes={sticker_volume(project): {"bind": STICKER_DIR, "mode": "rw"}},
                              labels={"stella.sticker-io": "1"})
    try:
        yield ctr
    finally:
        ctr.remove(force=True)


def write_sticker(c: docker.DockerClient, project: str, data: bytes, refs: Iterable[str]) -> None:
    """Create (or reuse) the labelled volume and put ``stella.version.json`` in it."""
    name = sticker_volume(project)
    try:
        c.volumes.get(name)
    except docker.errors.NotFound:
        c.volumes.create(name, labels={"stella.sticker": "1", "stella.project": project})
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(STICKER_NAME)
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
    with _volume_container(c, project, refs) as ctr:
        if not ctr.put_archive(STICKER_DIR, buf.getvalue()):
            raise StickerWriteFailed(f"could not write the version sticker to volume {name}")


def read_sticker(c: docker.DockerClient, project: str, refs: Iterable[str]) -> bytes | None:
    """The sticker's bytes, or None when the volume or the file is missing."""
    try:
        c.volumes.get(sticker_volume(project))
    except docker.errors.NotFound:
        return None
    with _volume_container(c, project, refs) as ctr:
        try:
            stream, _stat = ctr.get_archive(f"{STICKER_DIR}/{STICKER_NAME}")
        except docker.errors.NotFound:
            return None
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.extractfile(STICKER_NAME)
            return member.read() if member else None


def remove_sticker(c: docker.DockerClient, project: str) -> None:
    try:
        c.volumes.get(sticker_volume(project)).remove(force=True)
    except docker.errors.NotFound:
        pass
