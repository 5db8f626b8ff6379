"""Before anything changes: the release's template, its images pinned by digest, the
appliance registry seeded with them, every target's engine answering.

A template that names an image outside the release, a registry that does not answer or
an engine that is down all stop the deploy here, with the promotion still ``approved``.
"""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from appliance import releases
from appliance.deploy import engine, targets
from appliance.deploy.targets import Target
from appliance.errors import NoComposeTemplate, NoTargets, RegistryDown, RegistryError
from appliance.home import Home
from appliance.registry import config as registry_config
from appliance.registry.mediatypes import ACCEPT
from appliance.store.blobs import BlobStore
from kit.deploy.lockfile import LockIdentity, PinnedImage, render_lock
from kit.deploy.pins import pin_services
from kit.deploy.stack import stack_template


@dataclass(frozen=True)
class ReleaseInfo:
    ref: str                           # NAME@VERSION
    kit_id: str
    document: dict[str, Any]
    template: bytes

    @property
    def components(self) -> list[dict[str, Any]]:
        return [c for c in self.document.get("components") or [] if isinstance(c, dict)]

    def component_digests(self) -> dict[str, str]:
        return {str(c.get("service")): str(c.get("digest")) for c in self.components}


def load_release(home: Home, db: sqlite_utils.Database, ref: str) -> ReleaseInfo:
    """The release document and its compose template (kit entry ``releases/N/V/compose.yaml``).

    Raises:
        LockError: the release carries no compose template.
    """
    rel = releases.resolve(db, ref)
    doc = releases.document(home, rel)
    compose = doc.get("compose")
    path = compose.get("path") if isinstance(compose, dict) else None
    row = db.execute("SELECT sha256 FROM kit_entries WHERE kit_id = ? AND path = ?", [rel.kit_id, path]).fetchone() \
        if isinstance(path, str) else None
    if row is None:
        raise NoComposeTemplate(f"release {rel.label} has no compose template in its kit, so it cannot be deployed "
                                "(give the release a compose: file in kit.yaml)")
    return ReleaseInfo(rel.label, rel.kit_id, doc, BlobStore(home.blobs).path(row[0]).read_bytes())


def repositories(db: sqlite_utils.Database, info: ReleaseInfo) -> dict[str, str]:
    """digest → repository it was seeded under (appliance/registry/names.py rules, table images)."""
    out = {}
    for digest in info.component_digests().values():
        row = db.execute("SELECT repository FROM images WHERE digest = ? ORDER BY kit_id = ? DESC, repository "
                         "LIMIT 1", [digest, info.kit_id]).fetchone()
        if row:
            out[digest] = row[0]
    return out


def registry_for(home: Home, target: Target) -> str:
    return target.registry or registry_config.load(home).addr


def pins(home: Home, db: sqlite_utils.Database, info: ReleaseInfo, target: Target) -> dict[str, PinnedImage]:
    return pin_services(info.template, info.components, info.ref, registry_for(home, target), repositories(db, info))


def render(home: Home, db: sqlite_utils.Database, info: ReleaseInfo, target: Target, environment: str,
           deployment: str) -> bytes:
    who = LockIdentity(info.ref, environment, deployment, target.name, target.project)
    if target.kind == "swarm":     # a stack file: update/rollback config from the environment's health timeout
        template = stack_template(info.template, targets.settings(db, environment).health_timeout)
        return render_lock(template, pins(home, db, info, target), who, stack=True)
    return render_lock(info.template, pins(home, db, info, target), who)


def _already_seeded(addr: str, rows: list[tuple[str, str, str | None, str]], wanted: set[str]) -> bool:
    """True when the registry answers ``/v2/`` and already serves every wanted image (its
    manifest by digest, and its tag pointing at that digest): exactly the state in which
    ``Seeder`` would push nothing. Checked with the standard library, so a deploy of an
    already-seeded release does not import httpx. Any other answer or error: False (the
    caller then runs the full ``Seeder``, which re-checks and reports)."""
    conn = http.client.HTTPConnection(addr, timeout=30.0)
    try:
        def ask(method: str, url: str) -> http.client.HTTPResponse:
            conn.request(method, url, headers={"Accept": ACCEPT} if method == "HEAD" else {})
            resp = conn.getresponse()
            resp.read()
            return resp

        if ask("GET", "/v2/").status != 200:
            return False
        for repo, digest, tag, _media_type in rows:
            if digest not in wanted:
                continue
            if ask("HEAD", f"/v2/{repo}/manifests/{digest}").status != 200:
                return False
            if tag:
                resp = ask("HEAD", f"/v2/{repo}/manifests/{tag}")
                if resp.status != 200 or resp.getheader("Docker-Content-Digest") != digest:
                    return False
        return True
    except (OSError, http.client.HTTPException, ValueError):
        return False
    finally:
        conn.close()


def seed_release(home: Home, db: sqlite_utils.Database, info: ReleaseInfo) -> None:
    """Make sure the appliance registry serves every image of the release (idempotent).

    Raises:
        RegistryError: the registry does not answer or refuses a push.
    """
    seed_digests(home, db, set(info.component_digests().values()))


def seed_digests(home: Home, db: sqlite_utils.Database, wanted: set[str]) -> None:
    """Make sure the appliance registry serves every imported image whose digest is in
    *wanted* (idempotent; a release's images, a script step's image).

    Raises:
        RegistryError: the registry does not answer or refuses a push.
    """
    addr = registry_config.load(home).addr
    rows = db.execute("SELECT DISTINCT repository, digest, tag, media_type FROM images").fetchall()
    if _already_seeded(addr, rows, wanted):
        return
    from appliance.registry.seed import Seeder  # httpx: only when something may need pushing
    seeder = Seeder(addr, BlobStore(home.blobs))
    try:
        if not seeder.ping():
            raise RegistryDown(f"the appliance registry at {addr} does not answer /v2/ "
                               "(start it: stella registry serve)")
        for repo, digest, tag, media_type in rows:
            if digest in wanted:
                seeder.seed(repo, digest, media_type, tag)
    except Exception as exc:  # httpx errors are transport problems of the appliance's own registry
        if isinstance(exc, RegistryError):
            raise
        raise RegistryDown(f"seeding the appliance registry at {addr}: {exc}") from None
    finally:
        seeder.close()


def preflight(home: Home, db: sqlite_utils.Database, info: ReleaseInfo, environment: str,
              targets: list[Target]) -> None:
    """Everything checkable before the promotion moves to ``deploying``.

    Raises:
        LockError, KitFormatError: bad template; RegistryError; EngineDown.
    """
    if not targets:
        raise NoTargets(f"environment {environment} has no deploy targets "
                        f"(stella target add NAME --env {environment} --docker URL)")
    for t in targets:
        render(home, db, info, t, environment, "D-check")      # pins every service first, then renders
    seed_release(home, db, info)
    for t in targets:
        if t.kind == "agents":      # every host it selects ready (AgentDown), no engine to dial
            from appliance.deploy import agenthost
            agenthost.preflight(db, t)
            continue
        with engine.client(t.docker, f"target {t.name}") as c:
            if t.kind == "swarm":       # a stack deploys only through a manager (EngineDown)
                from appliance.deploy import swarm
                swarm.manager_time(c, t)
