"""Deploy targets (a Docker engine + a Compose project in one environment, or a Swarm
manager's engine + a stack) and the per-environment deploy settings (health timeout,
auto-deploy on approval)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from appliance import audit, environments, users
from appliance.deploy.errors import UnknownTarget
from appliance.errors import BadDockerURL, BadName, BadTimeout
from appliance.promotions.errors import AlreadyExists, MissingRole, NoDeployAs
from appliance.store.db import transaction
from kit.timeutil import format_time, now

DEFAULT_HEALTH_TIMEOUT = 120
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
_PROJECT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")     # what Compose accepts as a project name
KINDS = ("compose", "swarm", "agents")   # docker compose up on one engine | docker stack deploy on a Swarm |
                                         # compose up on every host an agent label selector picks (agenthost.py)


@dataclass(frozen=True)
class Target:
    name: str
    environment: str
    docker: str
    project: str
    env_file: str | None = None
    registry: str | None = None        # the appliance registry as this host reaches it (None: as configured)
    kind: str = "compose"              # KINDS; for "swarm", docker is a manager's engine and project the stack
    # kind "agents" (docs/deploy.md "Agent targets"): every ready agent carrying these labels is one
    # host of the target; ``docker`` is then "agents:" + the selector, no engine the appliance dials
    agent_labels: tuple[tuple[str, str], ...] | None = None

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.agent_labels or ())

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"name": self.name, "environment": self.environment, "docker": self.docker,
                               "project": self.project, "envFile": self.env_file, "registry": self.registry,
                               "kind": self.kind}
        if self.kind == "agents":
            doc["agentLabels"] = self.labels
        return doc


def agent_selector(labels: dict[str, str]) -> str:
    """What an agent target keeps in ``docker``: ``agents:role=web,site=berlin`` (sorted)."""
    return "agents:" + ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def agent_target(name: str, environment: str, labels: dict[str, str], project: str, env_file: str | None = None,
                 registry: str | None = None) -> Target:
    """A target deployed through every ready agent carrying *labels* (kind ``agents``)."""
    return Target(name, environment, agent_selector(labels), project, env_file, registry, "agents",
                  tuple(sorted(labels.items())))


@dataclass(frozen=True)
class DeploySettings:
    environment: str
    health_timeout: int = DEFAULT_HEALTH_TIMEOUT
    auto_deploy: bool = False
    deploy_as: str | None = None       # the deployer identity auto-deploy acts as

    def to_dict(self) -> dict[str, Any]:
        return {"environment": self.environment, "healthTimeout": self.health_timeout,
                "autoDeploy": self.auto_deploy, "deployAs": self.deploy_as}


_COLS = "name, environment, docker, project, env_file, registry, kind, agent_labels"


def _target(row: tuple[Any, ...]) -> Target:
    labels = tuple(sorted(json.loads(row[7]).items())) if row[7] is not None else None
    return Target(row[0], row[1], row[2], row[3], row[4], row[5], row[6], labels)


def _check(name: str, docker: str, project: str, kind: str = "compose") -> None:
    if kind not in KINDS:
        raise BadName(f"bad target kind {kind!r} ({', '.join(KINDS)})")
    if not _NAME.match(name):
        raise BadName(f"bad target name {name!r} (lowercase letters, digits, . _ -)")
    if not _PROJECT.match(project):
        raise BadName(f"bad compose project {project!r} (lowercase letters, digits, _ -)")
    if kind == "agents":
        if not docker.startswith("agents:") or docker == "agents:":
            raise BadDockerURL(f"target {name}: an agent target needs --agent-labels KEY=VALUE,…")
    elif not docker.startswith(("unix://", "tcp://", "ssh://")):
        raise BadDockerURL(f"bad docker URL {docker!r} (unix:///path, tcp://host:port or ssh://…)")


def add(db: sqlite_utils.Database, target: Target, actor: str) -> Target:
    """Register a target; audited. Raises StateConflict for a taken name or engine+project."""
    _check(target.name, target.docker, target.project, target.kind)
    environments.get(db, target.environment)
    if db.execute("SELECT 1 FROM deploy_targets WHERE name = ? AND removed_at IS NULL", [target.name]).fetchone():
        raise AlreadyExists(f"target {target.name} already exists")
    clash = db.execute("SELECT name FROM deploy_targets WHERE docker = ? AND project = ? AND removed_at IS NULL",
                       [target.docker, target.project]).fetchone()
    if clash:
        raise AlreadyExists(f"target {clash[0]} already deploys project {target.project} on {target.docker}")
    when = format_time(now())
    with transaction(db):
        # a removed target's row stays (its rollouts reference it); adding the name again revives it
        db.execute("DELETE FROM deploy_targets WHERE name = ? AND removed_at IS NOT NULL "
                   "AND NOT EXISTS (SELECT 1 FROM target_rollouts WHERE target = ?)", [target.name, target.name])
        selector = json.dumps(target.labels, sort_keys=True) if target.agent_labels is not None else None
        values = [target.environment, target.docker, target.project, target.env_file, target.registry, target.kind,
                  selector, when, actor, target.name]
        if not db.execute("UPDATE deploy_targets SET environment = ?, docker = ?, project = ?, env_file = ?, "
                          "registry = ?, kind = ?, agent_labels = ?, created_at = ?, created_by = ?, "
                          "removed_at = NULL WHERE name = ?", values).rowcount:
            db.execute(f"INSERT INTO deploy_targets ({_COLS}, created_at, created_by) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [target.name, *values[:-1]])
        audit.append(db, actor, "target.add", target.to_dict(), when)
    return target


def remove(db: sqlite_utils.Database, name: str, actor: str) -> None:
    get(db, name)
    when = format_time(now())
    with transaction(db):
        db.execute("UPDATE deploy_targets SET removed_at = ? WHERE name = ?", [when, name])
        audit.append(db, actor, "target.remove", {"name": name}, when)


def get(db: sqlite_utils.Database, name: str) -> Target:
    row = db.execute(f"SELECT {_COLS} FROM deploy_targets WHERE name = ? AND removed_at IS NULL", [name]).fetchone()
    if row is None:
        raise UnknownTarget(f"unknown target {name!r} (stella target list)")
    return _target(row)


def listing(db: sqlite_utils.Database, environment: str | None = None) -> list[Target]:
    sql = f"SELECT {_COLS} FROM deploy_targets WHERE removed_at IS NULL"
    args: list[Any] = []
    if environment:
        sql += " AND environment = ?"
        args.append(environment)
    return [_target(r) for r in db.execute(sql + " ORDER BY name", args)]


def settings(db: sqlite_utils.Database, environment: str) -> DeploySettings:
    row = db.execute("SELECT health_timeout, auto_deploy, deploy_as FROM deploy_settings WHERE environment = ?",
                     [environment]).fetchone()
    return DeploySettings(environment, row[0], bool(row[1]), row[2]) if row else DeploySettings(environment)


def save_settings(db: sqlite_utils.Database, new: DeploySettings, actor: str) -> DeploySettings:
    """Store an environment's deploy settings; audited.

    Raises:
        KitFormatError: a health timeout under 1 s.
        NotFound: the deploy-as user does not exist (exit 2).
        OrchestrationRefused: auto-deploy on without a deploy-as user, or one lacking the
            deployer role (exit 1).
    """
    environments.get(db, new.environment)
    if new.health_timeout < 1:
        raise BadTimeout("the health timeout must be at least 1 second")
    if new.deploy_as is not None and not users.get(db, new.deploy_as).has("deployer"):
        raise MissingRole(f"{new.deploy_as} lacks the deployer role, so auto-deploy cannot act as them")
    if new.auto_deploy and new.deploy_as is None:
        raise NoDeployAs(f"auto-deploy in {new.environment} needs an identity to deploy as "
                         "(--deploy-as USER, a user with the deployer role)")
    with transaction(db):
        db.execute("INSERT OR REPLACE INTO deploy_settings (environment, health_timeout, auto_deploy, deploy_as) "
                   "VALUES (?, ?, ?, ?)", [new.environment, new.health_timeout, int(new.auto_deploy), new.deploy_as])
        audit.append(db, actor, "env.deploy-settings", new.to_dict())
    return new
