"""Which workflow template each environment runs, stored by digest (docs/workflows.md).

Templates are rows keyed by digest and never changed; ``environment_workflows`` is the
history of what was set for an environment, by whom and from where (an admin's file, or a
kit). The newest row is in force; an environment with none runs the default template.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

import sqlite_utils

from appliance import audit, environments
from appliance.errors import DamagedHome
from appliance.store.db import transaction
from appliance.users import User
from kit import canonical
from kit.timeutil import format_time, now
from kit.workflow.default import default_template
from kit.workflow.load import from_doc, load
from kit.workflow.model import Template

Origin = Literal["default", "admin", "kit"]


@dataclass(frozen=True)
class InForce:
    """The template an environment runs and where it came from."""

    environment: str
    template: Template
    origin: Origin
    origin_ref: str | None = None       # the file an admin gave, or the kit's id
    set_at: str | None = None
    set_by: str | None = None

    def summary(self) -> dict[str, object]:
        return {"environment": self.environment, "name": self.template.name, "digest": self.template.digest,
                "origin": self.origin, "originRef": self.origin_ref, "setAt": self.set_at, "setBy": self.set_by,
                "template": self.template.to_doc()}


def set_from_file(db: sqlite_utils.Database, environment: str, data: bytes, where: str, actor: User) -> InForce:
    """Make the template in *data* the one *environment* runs (an admin's; audited).

    Raises:
        UnknownEnvironment: no such environment.
        InvalidWorkflow: the file has problems (every one is in the error's ``problems``).
    """
    environments.get(db, environment)
    return assign(db, environment, load(data, where), origin="admin", ref=where, source=data, actor=actor.name)


def assign(db: sqlite_utils.Database, environment: str, template: Template, *, origin: Literal["admin", "kit"],
           ref: str, source: bytes | None, actor: str) -> InForce:
    """Record that *environment* runs *template* from now on (audited ``workflow.set``), storing
    the template by digest. *ref* names where it came from: the admin's file or the kit's id.

    Setting the template already in force from the same origin changes nothing (and returns it).

    Raises:
        UnknownEnvironment: no such environment.
    """
    current = in_force(db, environment)
    if (current.origin, current.origin_ref, current.template.digest) == (origin, ref, template.digest):
        return current
    when = format_time(now())
    with transaction(db):
        return record_assignment(db, environment, template, origin=origin, ref=ref, source=source, actor=actor,
                                 when=when, previous=current)


def record_assignment(db: sqlite_utils.Database, environment: str, template: Template, *,
                      origin: Literal["admin", "kit"], ref: str, source: bytes | None, actor: str, when: str,
                      previous: InForce) -> InForce:
    """:func:`assign`'s writes, inside a transaction the caller holds (a kit import commits its
    templates in the import's own transaction); *previous*: what was in force until now."""
    store_template(db, template, when)
    db.execute("INSERT INTO environment_workflows (environment, digest, origin, origin_ref, source, set_at, "
               "set_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
               [environment, template.digest, origin, ref, source, when, actor])
    audit.append(db, actor, "workflow.set", {
        "environment": environment, "digest": template.digest, "name": template.name, "origin": origin,
        "ref": ref, "previous": previous.template.digest}, when)
    return InForce(environment, template, origin, ref, when, actor)


def store_template(db: sqlite_utils.Database, template: Template, when: str) -> None:
    """Store *template* by digest (once; a run refers to it by digest)."""
    db.execute("INSERT OR IGNORE INTO workflow_templates (digest, name, document, created_at) VALUES (?, ?, ?, ?)",
               [template.digest, template.name, canonical.dumps(template.to_doc()).decode("utf-8"), when])


def in_force(db: sqlite_utils.Database, environment: str) -> InForce:
    """The template *environment* runs now (the default when none was set).

    Raises:
        UnknownEnvironment: no such environment.
    """
    environments.get(db, environment)
    row = db.execute("SELECT digest, origin, origin_ref, set_at, set_by FROM environment_workflows "
                     "WHERE environment = ? ORDER BY id DESC LIMIT 1", [environment]).fetchone()
    if row is None:
        return InForce(environment, default_template(), "default")
    digest, origin, ref, set_at, set_by = row
    return InForce(environment, by_digest(db, digest), origin, ref, set_at, set_by)


def by_digest(db: sqlite_utils.Database, digest: str) -> Template:
    """A stored template (what a run refers to), checked again as it is read.

    Raises:
        DamagedHome: it is not stored, or its document no longer has its digest.
    """
    row = db.execute("SELECT document FROM workflow_templates WHERE digest = ?", [digest]).fetchone()
    if row is None:
        default = default_template()
        if digest == default.digest:
            return default
        raise DamagedHome(f"workflow template {digest} is referred to but not stored")
    template = from_doc(json.loads(row[0]), f"stored workflow {digest}")
    if template.digest != digest:
        raise DamagedHome(f"stored workflow template {digest} now has digest {template.digest}")
    return template
