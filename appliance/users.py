"""Users and roles, and who the CLI acts as (docs/promotions.md "Users").

Roles: requester, approver, deployer, admin, auditor; a user may hold several. The CLI
acts as ``--as USER``, else ``STELLA_USER``. The first user is bootstrapped by whoever can
write the home (the OS-level owner): while the table is empty, ``stella user add`` needs
no acting user; afterwards only an admin adds users or roles.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import sqlite_utils

from appliance import audit
from appliance.errors import BadName, BadRole
from appliance.promotions.errors import MissingRole, NoUser, UnknownUser
from appliance.store.db import transaction
from kit.timeutil import format_time, now

ROLES = ("requester", "approver", "deployer", "admin", "auditor")
USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


@dataclass(frozen=True)
class User:
    name: str
    roles: tuple[str, ...]

    def has(self, role: str) -> bool:
        return role in self.roles


def acting_name(as_user: str | None) -> str:
    """``--as`` wins, then ``STELLA_USER``.

    Raises:
        OrchestrationRefused: neither is set.
    """
    name = as_user or os.environ.get("STELLA_USER")
    if not name:
        raise NoUser("who is acting? give --as USER or set STELLA_USER")
    return name


def get(db: sqlite_utils.Database, name: str) -> User:
    if not db.execute("SELECT 1 FROM users WHERE name = ?", [name]).fetchone():
        raise UnknownUser(f"unknown user {name!r} (stella user add {name} --role ROLE)")
    roles = tuple(r[0] for r in db.execute("SELECT role FROM user_roles WHERE name = ? ORDER BY role", [name]))
    return User(name, roles)


def acting(db: sqlite_utils.Database, as_user: str | None, role: str | None = None) -> User:
    """The acting user, required to hold *role* (admin does not imply other roles)."""
    user = get(db, acting_name(as_user))
    if role is not None and not user.has(role):
        raise MissingRole(f"{user.name} lacks the {role} role")
    return user


def listing(db: sqlite_utils.Database) -> list[User]:
    return [get(db, r[0]) for r in db.execute("SELECT name FROM users ORDER BY name")]


def add(db: sqlite_utils.Database, name: str, roles: tuple[str, ...], as_user: str | None) -> User:
    """Create *name* or grant it more roles; audited."""
    if not USER_NAME.fullmatch(name):
        raise BadName(f"bad user name {name[:80]!r} (1-64 letters, digits, . _ @ -, starting with a letter or digit)")
    bad = [r for r in roles if r not in ROLES]
    if bad or not roles:
        raise BadRole(f"role must be one of {', '.join(ROLES)}")
    empty = db.execute("SELECT count(*) FROM users").fetchone()[0] == 0
    # bootstrap: the first user is created by whoever can write the home (named as given)
    actor = (as_user or os.environ.get("STELLA_USER") or name) if empty else acting(db, as_user, "admin").name
    with transaction(db):
        when = format_time(now())
        db.execute("INSERT OR IGNORE INTO users VALUES (?, ?, ?)", [name, when, actor])
        for role in roles:
            db.execute("INSERT OR IGNORE INTO user_roles VALUES (?, ?)", [name, role])
        audit.append(db, actor, "user.add", {"user": name, "roles": sorted(roles), "bootstrap": empty}, when)
    return get(db, name)
