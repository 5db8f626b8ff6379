"""Trust roots on the appliance: the newest accepted root signs off kits; history is kept.

The database (table ``trust_roots``) is the source of truth; ``trust/current.json`` and
``trust/history/<version>.json`` are byte-exact copies for operators and auditors.
A new root is accepted only if ``verify_chain([current, new])`` passes: signed by a
threshold of the current root's root keys and of its own, exactly one version newer.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import sqlite_utils

from appliance import audit, lock
from appliance.errors import HomeError, OlderThanActive
from appliance.home import Home, fsync_dir
from appliance.store.db import transaction
from kit.timeutil import format_time, now
from kit.trust.root import TrustRoot, load_root_envelope, verify_chain


def current(db: sqlite_utils.Database) -> TrustRoot:
    row = db.execute("SELECT envelope FROM trust_roots ORDER BY version DESC LIMIT 1").fetchone()
    if row is None:
        raise HomeError("the appliance holds no trust root (run stella init)")
    return load_root_envelope(bytes(row[0]), "stored trust root")


def history(db: sqlite_utils.Database) -> list[dict[str, object]]:
    return [{"version": v, "digest": d, "expires": e, "installedAt": i, "actor": a}
            for v, d, e, i, a in db.execute(
                "SELECT version, digest, expires, installed_at, actor FROM trust_roots ORDER BY version")]


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def _record(db: sqlite_utils.Database, root: TrustRoot, actor: str, action: str) -> None:
    db.execute("INSERT INTO trust_roots (version, digest, expires, installed_at, actor, envelope) "
               "VALUES (?, ?, ?, ?, ?, ?)", [root.version, root.digest, format_time(root.expires),
                                             format_time(now()), actor, root.envelope.to_bytes()])
    audit.append(db, actor, action, {"version": root.version, "digest": root.digest,
                                     "expires": format_time(root.expires)})


def install_first(home: Home, db: sqlite_utils.Database, root: TrustRoot, actor: str, at: dt.datetime) -> None:
    """The anchor chosen at init: must carry its own root threshold and not be expired."""
    verify_chain([root], at)
    _write_atomic(home.trust / "history" / f"{root.version}.json", root.envelope.to_bytes())
    with transaction(db):
        _record(db, root, actor, "trust.init")
    _write_atomic(home.trust / "current.json", root.envelope.to_bytes())


def rotate(home: Home, db: sqlite_utils.Database, data: bytes, actor: str, at: dt.datetime,
           where: str = "new trust root", wait: float = 0.0) -> TrustRoot:
    """Accept *data* as the next root if the current one vouches for it.

    Everything that changes what the appliance trusts takes one lock, the import lock: a
    rotation waits for (up to *wait* seconds), or is refused during, an import that is
    verifying kits against the current root (and an import re-checks the root at commit).

    Raises:
        KitFormatError: not a trust root.
        KitVerificationError: not signed by the thresholds, wrong version, or expired.
        Locked: an import (or another rotation) holds the lock after *wait* seconds.
    """
    with lock.exclusive(home.lock_path, wait, "an import or another trust change"):
        return _rotate(home, db, data, actor, at, where)


def _rotate(home: Home, db: sqlite_utils.Database, data: bytes, actor: str, at: dt.datetime,
            where: str) -> TrustRoot:
    old = current(db)
    new = load_root_envelope(data, where)
    if new.version <= old.version:
        raise OlderThanActive(f"{where} is version {new.version}; the appliance already trusts version "
                              f"{old.version} (a rotation must be newer)")
    verify_chain([old, new], at)
    _write_atomic(home.trust / "history" / f"{new.version}.json", new.envelope.to_bytes())
    with transaction(db):
        _record(db, new, actor, "trust.update")
    _write_atomic(home.trust / "current.json", new.envelope.to_bytes())
    return new
